// Presets that walk the fault path (docs/spec/kvm-abi.md section 4): implicit conversions, guest bugs,
// poison, and the private access that no conversion can satisfy.
import type { Preset } from './preset.js'
import { GiB, KERNEL, KiB, MiB, POST_PORT } from './layout.js'

const PAGE = 4096
// Each vCPU gets 64 KiB of its own at 1 MiB + n * 64 KiB (256 vCPUs end at 17 MiB).
const OWN = 1 * MiB
const OWN_STRIDE = 64 * KiB

export const IMPLICIT_CONVERSIONS: Preset = {
  name: 'implicit-conversions',
  description: 'Touches pages in the state they are not in, so KVM reports KVM_EXIT_MEMORY_FAULT: shared accesses ' +
    'to private pages, a private access to a page made shared, a sweep, and an access that spans two pages. ' +
    'A converting decider lets each access through; vCPU n uses 1 MiB + n * 64 KiB.',
  types: ['snp', 'tdx'],
  memory_mib: 64,
  exits: '7 KVM_EXIT_MEMORY_FAULT (EFAULT): flags 0 at page 0, flags PRIVATE at page 0, flags 0 at pages 0-3 ' +
    '(the sweep), flags PRIVATE at page 3 (the spanning read), each when the decider converts.',
  program: [
    { op: 'write', gpa: OWN, private: false, vcpu_stride: OWN_STRIDE },
    { op: 'read', gpa: OWN, private: false, vcpu_stride: OWN_STRIDE },
    { op: 'write', gpa: OWN, private: true, vcpu_stride: OWN_STRIDE },
    { op: 'sweep', gpa: OWN, size: 4 * PAGE, access: 'read', private: false, vcpu_stride: OWN_STRIDE },
    { op: 'read', gpa: OWN + 4 * PAGE - 4, size: 8, private: true, vcpu_stride: OWN_STRIDE }
  ]
}

/** Past the end of the 64 MiB guest: no memslot. */
const NOWHERE = 64 * MiB

export const BUGGY_GUEST: Preset = {
  name: 'buggy-guest',
  description: 'A guest that reads its own private kernel memory as shared without ever asking (no MapGPA), ' +
    'then writes privately where no memslot is. Both faults are guest bugs a decider should kill for; ' +
    'the second cannot be converted away, so the vCPU never gets past it.',
  types: ['snp', 'tdx'],
  memory_mib: 64,
  exits: 'KVM_EXIT_MEMORY_FAULT (EFAULT, flags 0, gpa 1 MiB + n * 4 KiB); KVM_EXIT_MEMORY_FAULT (EFAULT, flags PRIVATE, ' +
    'gpa 64 MiB + n * 4 KiB: no memslot; convert is refused and resume faults again).',
  program: [
    { op: 'write', gpa: KERNEL, private: true, vcpu_stride: PAGE },
    { op: 'read', gpa: KERNEL, private: false, vcpu_stride: PAGE },
    { op: 'write', gpa: NOWHERE, private: true, vcpu_stride: PAGE }
  ]
}

const VICTIM = 2 * MiB

export const HWPOISON: Preset = {
  name: 'hwpoison',
  description: 'Writes a private page, stops at a POST-code OUT (port 0x80, value 1) so that you can poison it ' +
    '(POST /v1/vms/{vm}/memory/poison {"gpa": 2 MiB + n * 4 KiB}), then reads it privately: KVM_EXIT_MEMORY_FAULT ' +
    'with EHWPOISON, again on every plain resume. Resume with inject "mce" (a machine check) and the guest ' +
    'abandons the read and reaches the second OUT (value 2).',
  types: ['sw_protected', 'snp', 'tdx'],
  memory_mib: 64,
  exits: 'KVM_EXIT_IO (OUT 0x80 = 1); KVM_EXIT_MEMORY_FAULT (EHWPOISON, flags PRIVATE, gpa 2 MiB + n * 4 KiB) ' +
    'only if the page was poisoned meanwhile; KVM_EXIT_IO (OUT 0x80 = 2).',
  program: [
    { op: 'write', gpa: VICTIM, private: true, vcpu_stride: PAGE },
    { op: 'out', port: POST_PORT, size: 1, value: 1 },
    { op: 'read', gpa: VICTIM, private: true, vcpu_stride: PAGE },
    { op: 'out', port: POST_PORT, size: 1, value: 2 }
  ]
}

/** A second slot with no guest_memfd (a shared-only region, as for a framebuffer). */
const SHARED_SLOT = 1 * GiB

export const NO_GUEST_MEMFD_LOOP: Preset = {
  name: 'no-guest-memfd-loop',
  description: 'Needs two memslots: 1 GiB with guest_memfd at 0, and 64 MiB without at 1 GiB. The guest writes ' +
    'the shared slot (fine), then reads it privately: KVM_EXIT_MEMORY_FAULT flags PRIVATE that no conversion can ' +
    'satisfy. Convert is refused; resuming, or converting by hand, faults again for ever: the decider must kill.',
  types: ['snp', 'tdx'],
  memory_mib: 1024 + 64,
  memslots: [
    { slot: 0, gpa: 0, size: 1 * GiB, guest_memfd: true },
    { slot: 1, gpa: SHARED_SLOT, size: 64 * MiB, guest_memfd: false }
  ],
  exits: 'KVM_EXIT_MEMORY_FAULT (EFAULT, flags PRIVATE, gpa 1 GiB + n * 4 KiB), again on every resume. ' +
    'The final KVM_EXIT_IO (OUT 0x80 = 0xee) is never reached.',
  program: [
    { op: 'write', gpa: SHARED_SLOT, private: false, vcpu_stride: PAGE },
    { op: 'read', gpa: SHARED_SLOT, private: true, vcpu_stride: PAGE },
    { op: 'out', port: POST_PORT, size: 1, value: 0xee }
  ]
}

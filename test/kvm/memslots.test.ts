import t from 'tap'
import type { Test } from 'tap'
import { Vm, KVM_MEMORY_ATTRIBUTE_PRIVATE } from '../../src/kvm/index.js'
import { Memslots, validateMemslots } from '../../src/kvm/memslots.js'
import { config, MIB, PAGE } from './helpers/vm.js'

const rejects = (t: Test, fn: () => unknown, errno: string, msg: string): void => {
  t.throws(fn, { name: 'KvmError', code: 'INVALID_CONFIG', errno }, msg)
}

void t.test('§3 memslots: gpa and size page-aligned, size > 0, below 2^52 (EINVAL)', async t => {
  rejects(t, () => validateMemslots([{ slot: 0, gpa: 100, size: PAGE, guest_memfd: true }], 'tdx', 48), 'EINVAL', 'unaligned gpa')
  rejects(t, () => validateMemslots([{ slot: 0, gpa: 0, size: 100, guest_memfd: true }], 'tdx', 48), 'EINVAL', 'unaligned size')
  rejects(t, () => validateMemslots([{ slot: 0, gpa: 0, size: 0, guest_memfd: true }], 'tdx', 48), 'EINVAL', 'size 0')
  rejects(t, () => validateMemslots([{ slot: 0, gpa: 2 ** 52 - PAGE, size: 2 * PAGE, guest_memfd: true }], 'tdx', 48), 'EINVAL', 'past 2^52')
  t.same(validateMemslots([{ slot: 0, gpa: 2 ** 52 - PAGE, size: PAGE, guest_memfd: true }], 'sw_protected', 48).length, 1, 'up to 2^52 is fine')
})

void t.test('issue 8 #14: a TDX memslot whose last page has the shared bit is EINVAL (kvm_arch_prepare_memory_region, kvm_is_gfn_alias)', async t => {
  const SHARED48 = 2 ** 47
  rejects(t, () => validateMemslots([{ slot: 0, gpa: SHARED48 - MIB, size: 2 * MIB, guest_memfd: true }], 'tdx', 48), 'EINVAL', 'crosses 2^47 on gpaw 48')
  rejects(t, () => validateMemslots([{ slot: 0, gpa: SHARED48, size: PAGE, guest_memfd: false }], 'tdx', 48), 'EINVAL', 'wholly in the shared alias')
  rejects(t, () => Vm.create(config({ type: 'tdx', memslots: [{ slot: 0, gpa: 0, size: SHARED48 + PAGE, guest_memfd: true }] })), 'EINVAL', 'Vm.create refuses it')
  t.equal(validateMemslots([{ slot: 0, gpa: SHARED48 - MIB, size: MIB, guest_memfd: true }], 'tdx', 48).length, 1, 'ending exactly at 2^47 is fine')
  t.equal(validateMemslots([{ slot: 0, gpa: SHARED48 - MIB, size: 2 * MIB, guest_memfd: true }], 'tdx', 52).length, 1, 'gpaw 52: the shared bit is 51')
  rejects(t, () => validateMemslots([{ slot: 0, gpa: 2 ** 51 - PAGE, size: 2 * PAGE, guest_memfd: true }], 'tdx', 52), 'EINVAL', 'crosses 2^51 on gpaw 52')
  t.equal(validateMemslots([{ slot: 0, gpa: SHARED48 - MIB, size: 2 * MIB, guest_memfd: true }], 'snp', 48).length, 1, 'other VM types have no shared bit')
})

void t.test('§3 memslots: ids unique and ranges non-overlapping (EEXIST)', async t => {
  rejects(t, () => validateMemslots([{ slot: 1, gpa: 0, size: PAGE, guest_memfd: true }, { slot: 1, gpa: PAGE, size: PAGE, guest_memfd: true }], 'tdx', 48), 'EEXIST', 'same id')
  rejects(t, () => validateMemslots([{ slot: 0, gpa: 0, size: 2 * PAGE, guest_memfd: true }, { slot: 1, gpa: PAGE, size: PAGE, guest_memfd: true }], 'tdx', 48), 'EEXIST', 'overlap')
  t.equal(validateMemslots([{ slot: 0, gpa: PAGE, size: PAGE, guest_memfd: true }, { slot: 1, gpa: 0, size: PAGE, guest_memfd: false }], 'tdx', 48).length, 2, 'adjacent slots are fine')
})

void t.test('§3 a guest_memfd slot needs a VM type with private memory: DEFAULT VM gets EINVAL', async t => {
  rejects(t, () => Vm.create(config({ type: 'default', memslots: [{ slot: 0, gpa: 0, size: MIB, guest_memfd: true }], initial_attributes: 'shared' })), 'EINVAL', 'default + guest_memfd')
  for (const type of ['sw_protected', 'snp', 'tdx'] as const) t.ok(Vm.create(config({ type })), type)
})

void t.test('§3 boot: guest_memfd slots start private (QEMU), the rest shared; default VMs support no attribute', async t => {
  const vm = Vm.create(config({
    type: 'snp',
    memslots: [{ slot: 0, gpa: 0, size: MIB, guest_memfd: true }, { slot: 1, gpa: 2 * MIB, size: MIB, guest_memfd: false }]
  }))
  t.same(vm.memoryAttributes(0, 4 * MIB), [
    { gpa: 0, size: MIB, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE },
    { gpa: MIB, size: 3 * MIB, attributes: 0 }
  ])
  const shared = Vm.create(config({ type: 'tdx', initial_attributes: 'shared' }))
  t.same(shared.memoryAttributes(), [{ gpa: 0, size: 2 ** 52, attributes: 0 }], 'initial_attributes shared')
  const def = Vm.create(config({ type: 'default' }))
  t.throws(() => def.setMemoryAttributes({ address: 0, size: PAGE, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, flags: 0 }),
    { code: 'INVALID_ARGUMENT', errno: 'EINVAL' }, 'PRIVATE is unsupported on DEFAULT')
  rejects(t, () => Vm.create(config({ type: 'default', initial_attributes: 'private' })), 'EINVAL', 'default VM cannot boot private')
})

void t.test('VmConfig: vcpus 1..256, gpaw 48|52, program validated (INVALID_PROGRAM with path)', async t => {
  rejects(t, () => Vm.create(config({ vcpus: 0 })), 'EINVAL', 'vcpus 0')
  rejects(t, () => Vm.create(config({ vcpus: 257 })), 'EINVAL', 'vcpus 257')
  t.equal(Vm.create(config({ vcpus: 256 })).vcpus().length, 256)
  rejects(t, () => Vm.create(config({ gpaw: 50 as 48 })), 'EINVAL', 'gpaw 50')
  t.throws(() => Vm.create(config({ program: [{ op: 'nope' } as never] })),
    { code: 'INVALID_PROGRAM', path: 'program[0].op' })
  const big = Array.from({ length: 11 }, () => ({ op: 'hlt' as const }))
  t.throws(() => Vm.create(config({ program: big }), { maxInstructions: 10 }), { code: 'INVALID_PROGRAM' }, 'maxInstructions limit')
  t.ok(Vm.create(config({ program: big })), 'default limit 10000')
})

void t.test('Memslots.find: binary search with a cached last slot', async t => {
  const m = new Memslots([
    { slot: 2, gpa: 8 * PAGE, size: 2 * PAGE, guest_memfd: false },
    { slot: 1, gpa: 0, size: 4 * PAGE, guest_memfd: true }
  ])
  t.equal(m.find(0)?.slot, 1)
  t.equal(m.find(3)?.slot, 1)
  t.equal(m.find(4), null)
  t.equal(m.find(9)?.slot, 2)
  t.equal(m.find(10), null)
  t.equal(m.findGpa(8 * PAGE + 5)?.slot, 2)
  t.same(m.guestMemfdSlots().map(s => s.slot), [1])
  t.equal(new Memslots([]).find(0), null)
})

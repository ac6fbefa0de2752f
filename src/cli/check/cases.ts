// The conformance cases of `faultline check`, as data: each is a small VM (a program or a
// preset), what the kit does to it before the controller starts (poison, an interrupt), and
// the exits a correct VMM meets, in order, with the decisions it may make and the KVM rule
// behind them. The kernel functions cited are the ones docs/kvm-fidelity.md cites.
import type { CreateVmRequest, VmType } from '../../client/types.js'

/** What an exit must look like for a step to apply to it. */
export interface ExitMatch {
  reason: 'KVM_EXIT_MEMORY_FAULT' | 'KVM_EXIT_HYPERCALL' | 'KVM_EXIT_IO' | 'KVM_EXIT_SYSTEM_EVENT'
  /** Memory faults: KVM_RUN's errno. */
  errno?: 'EFAULT' | 'EHWPOISON'
  /** Memory faults: flags PRIVATE; MAP_GPA_RANGE: the ENCRYPTED bit. */
  private?: boolean
  /** memory_fault.gpa or hypercall args[0]. */
  gpa?: number
  /** hypercall args[1]. */
  npages?: number
  port?: number
  /** system_event.type. */
  systemEvent?: number
  /** A memory_fault left beside the exit by a suppressed fault (docs/spec/kvm-abi.md section 7). */
  staleFault?: boolean
}

/** One decision a correct VMM may make; `ret` for a resumed hypercall: 0, or any error. */
export interface AcceptedDecision {
  action: 'convert' | 'resume' | 'kill'
  ret?: 'zero' | 'error'
  inject?: 'mce'
}

export interface CaseStep {
  exit: ExitMatch
  accept: AcceptedDecision[]
  /** Why those decisions, in a line: the KVM rule, citing the kernel function. */
  why: string
}

export interface CheckCase {
  name: string
  title: string
  types: VmType[]
  /** The VM, less its type, name and vCPUs (the kit sets them: one vCPU). */
  vm: Omit<CreateVmRequest, 'type' | 'name' | 'vcpus'>
  /** Done by the kit after creating the VM and before starting it. */
  beforeStart?: { poison: number }
  /** Done by the kit once the first exit is pending, before the controller starts. */
  atFirstExit?: { interrupt: number }
  steps: CaseStep[]
  /** More exits than this and the kit kills the VM: the controller is looping. */
  maxExits: number
}

const MiB = 2 ** 20
const POST_PORT = 0x80
const KVM_SYSTEM_EVENT_CRASH = 3
const KVM_SYSTEM_EVENT_SEV_TERM = 6

const CONVERT: AcceptedDecision[] = [{ action: 'convert' }]
const RESUME: AcceptedDecision[] = [{ action: 'resume' }]
const KILL: AcceptedDecision[] = [{ action: 'kill' }]

const IMPLICIT_WHY = 'kvm_mmu_faultin_pfn (arch/x86/kvm/mmu/mmu.c) exits with KVM_EXIT_MEMORY_FAULT EFAULT when the access\'s ' +
  'private/shared disagrees with kvm_mem_is_private(): an implicit conversion request. The VMM converts the page ' +
  '(KVM_SET_MEMORY_ATTRIBUTES, as QEMU\'s kvm_convert_memory) and runs again; the access then completes.'

export const CASES: readonly CheckCase[] = [
  {
    name: 'implicit-conversion',
    title: 'a shared access to a private page, then a private access to it',
    types: ['snp', 'tdx'],
    vm: {
      memory: { size_mib: 64 },
      program: [
        { op: 'write', gpa: 1 * MiB, private: false },
        { op: 'write', gpa: 1 * MiB, private: true }
      ]
    },
    steps: [
      { exit: { reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EFAULT', private: false, gpa: 1 * MiB }, accept: CONVERT, why: IMPLICIT_WHY },
      { exit: { reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EFAULT', private: true, gpa: 1 * MiB }, accept: CONVERT, why: IMPLICIT_WHY }
    ],
    maxExits: 6
  },
  {
    name: 'private-without-guest-memfd',
    title: 'a private access to a memslot with no guest_memfd (preset no-guest-memfd-loop)',
    types: ['snp', 'tdx'],
    vm: { preset: 'no-guest-memfd-loop' },
    steps: [{
      exit: { reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EFAULT', private: true, gpa: 1024 * MiB },
      accept: KILL,
      why: 'kvm_mmu_faultin_pfn_gmem (arch/x86/kvm/mmu/mmu.c) returns EFAULT when !kvm_slot_has_gmem(slot): no conversion ' +
        'can back a private page there, so converting and running again meets the same fault for ever (KVM\'s ' +
        'documentation tells userspace to guard against this loop). Stop the VM, as QEMU does when a conversion fails.'
    }],
    maxExits: 4
  },
  {
    name: 'hwpoison',
    title: 'a private read of a hwpoisoned guest_memfd page',
    types: ['sw_protected', 'snp', 'tdx'],
    vm: {
      memory: { size_mib: 64 },
      program: [
        { op: 'read', gpa: 2 * MiB, private: true },
        { op: 'out', port: POST_PORT, size: 1, value: 2 }
      ]
    },
    beforeStart: { poison: 2 * MiB },
    steps: [
      {
        exit: { reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EHWPOISON', private: true, gpa: 2 * MiB },
        accept: [{ action: 'kill' }, { action: 'resume', inject: 'mce' }],
        why: 'kvm_gmem_get_pfn (virt/kvm/guest_memfd.c) returns -EHWPOISON on every attempt: converting cannot help and a ' +
          'plain resume faults again. Stop the VM (QEMU, for private memory) or inject a machine check ' +
          '(KVM_X86_SET_MCE, kvm_vcpu_ioctl_x86_set_mce) so the guest abandons the access.'
      },
      {
        exit: { reason: 'KVM_EXIT_IO', port: POST_PORT },
        accept: RESUME,
        why: 'After the machine check the guest goes on: an OUT is completed by running again (complete_userspace_io).'
      }
    ],
    maxExits: 6
  },
  {
    name: 'tdx-map-gpa-retry',
    title: 'a 4 MiB TDX MapGPA with an interrupt pending between its chunks (RETRY)',
    types: ['tdx'],
    vm: {
      memory: { size_mib: 64 },
      program: [
        { op: 'map_gpa', gpa: 16 * MiB, npages: 1024, private: false },
        { op: 'write', gpa: 16 * MiB, private: false },
        { op: 'write', gpa: 18 * MiB, private: false }
      ]
    },
    atFirstExit: { interrupt: 0 },
    steps: [
      {
        exit: { reason: 'KVM_EXIT_HYPERCALL', private: false, gpa: 16 * MiB, npages: 512 },
        accept: [{ action: 'convert' }],
        why: '__tdx_map_gpa (arch/x86/kvm/vmx/tdx.c) exits once per 2 MiB chunk: convert each and complete with ret 0.'
      },
      {
        exit: { reason: 'KVM_EXIT_HYPERCALL', private: false, gpa: 18 * MiB, npages: 512 },
        accept: [{ action: 'convert' }],
        why: 'tdx_complete_vmcall_map_gpa sees kvm_vcpu_has_events() and returns RETRY with r11 = map_gpa_next; the guest ' +
          '(arch/x86/coco/tdx/tdx.c tdx_map_gpa) calls again from there, so the VMM meets the rest as a new MapGPA: ' +
          'convert it too, or the TD\'s shared accesses fault.'
      }
    ],
    maxExits: 8
  },
  {
    name: 'snp-psc-fails-half-way',
    title: 'an SNP page state change to private whose second run has no guest_memfd behind it',
    types: ['snp'],
    vm: {
      memory: {
        slots: [
          { slot: 0, gpa: 0, size: 64 * MiB, guest_memfd: true },
          { slot: 1, gpa: 64 * MiB, size: 64 * MiB, guest_memfd: false }
        ]
      },
      // One 2 MiB entry at 62 MiB (guest_memfd RAM), then eight 4 KiB entries at 64 MiB (none).
      program: [{ op: 'map_gpa', gpa: 62 * MiB, npages: 520, private: true, page_size: '2m' }]
    },
    steps: [
      {
        exit: { reason: 'KVM_EXIT_HYPERCALL', private: true, gpa: 62 * MiB, npages: 512 },
        accept: CONVERT,
        why: 'snp_do_psc (arch/x86/kvm/svm/sev.c) merges the 2 MiB entry into one exit; it lies in guest_memfd RAM: convert it.'
      },
      {
        exit: { reason: 'KVM_EXIT_HYPERCALL', private: true, gpa: 64 * MiB, npages: 8 },
        accept: [{ action: 'resume', ret: 'error' }, { action: 'kill' }],
        why: 'The next run asks for private memory where no guest_memfd is: QEMU\'s kvm_convert_memory refuses it, and ' +
          'the VMM answers with an error ret (EINVAL), which snp_complete_one_psc turns into VMGEXIT_PSC_ERROR_GENERIC ' +
          'with the first run left converted. Converting would tell the guest that memory nothing can back is private.'
      },
      {
        exit: { reason: 'KVM_EXIT_SYSTEM_EVENT', systemEvent: KVM_SYSTEM_EVENT_SEV_TERM },
        accept: KILL,
        why: 'The Linux guest answers a failed page state change with sev_es_terminate(GHCB_TERM_PSC), which KVM reports ' +
          'as KVM_SYSTEM_EVENT_SEV_TERM (sev_handle_vmgexit_msr_protocol): the guest is gone and cannot be resumed.'
      }
    ],
    maxExits: 8
  },
  {
    name: 'stale-memory-fault',
    title: 'an OUT carrying the memory_fault of a fault KVM suppressed (pv_access)',
    types: ['snp', 'tdx'],
    vm: {
      memory: { size_mib: 64 },
      program: [
        { op: 'pv_access', gpa: 1 * MiB, private: false },
        { op: 'out', port: POST_PORT, size: 1, value: 1 }
      ]
    },
    steps: [{
      exit: { reason: 'KVM_EXIT_IO', port: POST_PORT, staleFault: true },
      accept: RESUME,
      why: 'memory_fault is valid only when KVM_RUN returned -1 with EFAULT/EHWPOISON and exit_reason is ' +
        'KVM_EXIT_MEMORY_FAULT (kvm_prepare_memory_fault_exit, include/linux/kvm_host.h); here run.ret is 0 and the ' +
        'exit is an OUT: complete the I/O and ignore the stale fault data.'
    }],
    maxExits: 4
  },
  {
    name: 'guest-bug-no-memslot',
    title: 'a private write where no memslot is',
    types: ['snp', 'tdx'],
    vm: { memory: { size_mib: 64 }, program: [{ op: 'write', gpa: 64 * MiB, private: true }] },
    steps: [{
      exit: { reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EFAULT', private: true, gpa: 64 * MiB },
      accept: KILL,
      why: 'kvm_handle_noslot_fault (arch/x86/kvm/mmu/mmu.c) refuses private MMIO with EFAULT: there is no memory to ' +
        'convert and resuming faults again. It is a guest bug: kill the VM.'
    }],
    maxExits: 4
  },
  {
    name: 'guest-crash',
    title: 'a guest panic (KVM_SYSTEM_EVENT_CRASH)',
    types: ['default', 'sw_protected', 'snp', 'tdx'],
    vm: { memory: { size_mib: 16 }, program: [{ op: 'panic' }] },
    steps: [{
      exit: { reason: 'KVM_EXIT_SYSTEM_EVENT', systemEvent: KVM_SYSTEM_EVENT_CRASH },
      accept: KILL,
      why: 'KVM_SYSTEM_EVENT_CRASH (vcpu_enter_guest on KVM_REQ_HV_CRASH, arch/x86/kvm/x86.c) reports a guest that ' +
        'crashed: it cannot run on. Stop the VM (QEMU\'s default for a guest panic).'
    }],
    maxExits: 4
  }
]

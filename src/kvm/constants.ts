// Every KVM number faultline uses, named once with its KVM name (include/uapi/linux/kvm.h,
// arch/x86/include/uapi/asm/kvm_para.h, arch/x86/kvm/vmx/tdx.c, arch/x86/kvm/svm/sev.c).
// See ../shared/spec/kvm-abi.md section 1.

/** kvm_run.exit_reason values. */
export const KVM_EXIT_UNKNOWN = 0
export const KVM_EXIT_IO = 2
export const KVM_EXIT_HYPERCALL = 3
export const KVM_EXIT_HLT = 5
export const KVM_EXIT_MMIO = 6
export const KVM_EXIT_SHUTDOWN = 8
export const KVM_EXIT_INTERNAL_ERROR = 17
export const KVM_EXIT_SYSTEM_EVENT = 24
export const KVM_EXIT_MEMORY_FAULT = 39

/** The KVM names of the exit reasons, as they cross the wire in `reason`. */
export const EXIT_REASON_NAMES = {
  [KVM_EXIT_UNKNOWN]: 'KVM_EXIT_UNKNOWN',
  [KVM_EXIT_IO]: 'KVM_EXIT_IO',
  [KVM_EXIT_HYPERCALL]: 'KVM_EXIT_HYPERCALL',
  [KVM_EXIT_HLT]: 'KVM_EXIT_HLT',
  [KVM_EXIT_MMIO]: 'KVM_EXIT_MMIO',
  [KVM_EXIT_SHUTDOWN]: 'KVM_EXIT_SHUTDOWN',
  [KVM_EXIT_INTERNAL_ERROR]: 'KVM_EXIT_INTERNAL_ERROR',
  [KVM_EXIT_SYSTEM_EVENT]: 'KVM_EXIT_SYSTEM_EVENT',
  [KVM_EXIT_MEMORY_FAULT]: 'KVM_EXIT_MEMORY_FAULT'
} as const
export type ExitReasonCode = keyof typeof EXIT_REASON_NAMES
export type ExitReasonName = (typeof EXIT_REASON_NAMES)[ExitReasonCode]

/** memory_fault.flags: the guest wanted private memory. */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1 << 3
/** memory_fault.flags (proposed userfault extension, not in mainline): page not populated. */
export const KVM_MEMORY_EXIT_FLAG_USERFAULT = 1 << 4
/** The one memory attribute KVM_SET_MEMORY_ATTRIBUTES knows. */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1 << 3

/** hypercall.nr for explicit conversions. */
export const KVM_HC_MAP_GPA_RANGE = 12
/** args[2] bits 3:0: page size hint (KVM and QEMU ignore it). */
export const KVM_MAP_GPA_RANGE_PAGE_SZ_4K = 0
export const KVM_MAP_GPA_RANGE_PAGE_SZ_2M = 1
export const KVM_MAP_GPA_RANGE_PAGE_SZ_1G = 2
/** args[2] bit 4: the direction; set = to private. */
export const KVM_MAP_GPA_RANGE_ENCRYPTED = 1 << 4
export const KVM_MAP_GPA_RANGE_DECRYPTED = 0
/** hypercall.flags: the guest was in 64-bit mode. */
export const KVM_EXIT_HYPERCALL_LONG_MODE = 1

/** io.direction */
export const KVM_EXIT_IO_IN = 0
export const KVM_EXIT_IO_OUT = 1

/** system_event.type */
export const KVM_SYSTEM_EVENT_SHUTDOWN = 1
export const KVM_SYSTEM_EVENT_RESET = 2
export const KVM_SYSTEM_EVENT_CRASH = 3
export const KVM_SYSTEM_EVENT_WAKEUP = 4
export const KVM_SYSTEM_EVENT_SUSPEND = 5
export const KVM_SYSTEM_EVENT_SEV_TERM = 6
export const KVM_SYSTEM_EVENT_TDX_FATAL = 7

/** Hypercall errors, returned to the guest negated in RAX (include/uapi/linux/kvm_para.h). */
export const KVM_EPERM = 1
export const KVM_EINVAL = 22
export const KVM_ENOSYS = 1000

/** TDG.VP.VMCALL status codes the guest sees in r10. 64-bit values: bigint. */
export const TDVMCALL_STATUS_SUCCESS = 0n
export const TDVMCALL_STATUS_RETRY = 1n
export const TDVMCALL_STATUS_INVALID_OPERAND = 0x8000000000000000n
export const TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED = 0x8000000000000001n
export const TDVMCALL_STATUS_ALIGN_ERROR = 0x8000000000000002n
/** KVM splits a TDX MapGPA into chunks of at most this many bytes (TDX_MAP_GPA_MAX_LEN). */
export const TDX_MAP_GPA_MAX_LEN = 2 * 1024 * 1024

/** SNP GHCB page state change: at most this many entries per request (VMGEXIT_PSC_MAX_ENTRY). */
export const VMGEXIT_PSC_MAX_ENTRY = 253
/** GHCB MSR protocol: termination request, Linux reason set, "page state change failed". */
export const GHCB_MSR_TERM_REQ = 0x100
export const SEV_TERM_SET_LINUX = 1
export const GHCB_TERM_PSC = 1

/** KVM VM types (KVM_CREATE_VM argument). */
export const KVM_X86_DEFAULT_VM = 0
export const KVM_X86_SW_PROTECTED_VM = 1
export const KVM_X86_SNP_VM = 4
export const KVM_X86_TDX_VM = 5

export const PAGE_SHIFT = 12
export const PAGE_SIZE = 4096
/** The largest guest physical address width KVM models (MAXPHYADDR 52). */
export const GPA_LIMIT = 2 ** 52

/** errno names carried beside KVM-mirroring results. */
export type Errno = 'EFAULT' | 'EHWPOISON' | 'EINVAL' | 'EEXIST' | 'ENOENT' | 'E2BIG' | 'EPERM'

// Every KVM number faultline uses, named once with its kernel name. Each group's comment names
// the kernel file the values come from; docs/kvm-fidelity.md "Constants" lists them all, and
// test/kvm/constants.test.ts keeps the two in step. No imports: other layers re-export this.

// include/uapi/linux/kvm.h: kvm_run.exit_reason values.
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

// include/uapi/linux/kvm.h: memory_fault.flags, memory attributes, io.direction, system_event.type.
/** memory_fault.flags: the guest wanted private memory. */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1 << 3
/** The one memory attribute KVM_SET_MEMORY_ATTRIBUTES knows. */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1 << 3
export const KVM_EXIT_IO_IN = 0
export const KVM_EXIT_IO_OUT = 1
export const KVM_SYSTEM_EVENT_SHUTDOWN = 1
export const KVM_SYSTEM_EVENT_RESET = 2
export const KVM_SYSTEM_EVENT_CRASH = 3
export const KVM_SYSTEM_EVENT_WAKEUP = 4
export const KVM_SYSTEM_EVENT_SUSPEND = 5
export const KVM_SYSTEM_EVENT_SEV_TERM = 6
export const KVM_SYSTEM_EVENT_TDX_FATAL = 7

// include/uapi/linux/kvm.h (proposed KVM userfault series, not in mainline).
/** memory_fault.flags: page not populated. */
export const KVM_MEMORY_EXIT_FLAG_USERFAULT = 1 << 4

// include/uapi/linux/kvm_para.h: hypercall numbers and the errors a guest sees in RAX (negated).
/** hypercall.nr for explicit conversions. */
export const KVM_HC_MAP_GPA_RANGE = 12
export const KVM_EPERM = 1
export const KVM_EINVAL = 22
export const KVM_ENOSYS = 1000

// arch/x86/include/uapi/asm/kvm_para.h: KVM_HC_MAP_GPA_RANGE args[2].
/** Bits 3:0: page size hint (KVM and QEMU ignore it). */
export const KVM_MAP_GPA_RANGE_PAGE_SZ_4K = 0
export const KVM_MAP_GPA_RANGE_PAGE_SZ_2M = 1
export const KVM_MAP_GPA_RANGE_PAGE_SZ_1G = 2
/** Bit 4: the direction; set = to private. */
export const KVM_MAP_GPA_RANGE_ENCRYPTED = 1 << 4
export const KVM_MAP_GPA_RANGE_DECRYPTED = 0

// arch/x86/include/uapi/asm/kvm.h: hypercall.flags and the KVM_CREATE_VM types.
/** hypercall.flags: the guest was in 64-bit mode. */
export const KVM_EXIT_HYPERCALL_LONG_MODE = 1
export const KVM_X86_DEFAULT_VM = 0
export const KVM_X86_SW_PROTECTED_VM = 1
export const KVM_X86_SNP_VM = 4
export const KVM_X86_TDX_VM = 5

// include/uapi/asm-generic/errno-base.h: the hypercall.ret values userspace may give a
// TDX MapGPA or an SNP page state change (kvm_is_valid_map_gpa_range_ret, arch/x86/kvm/x86.h).
export const EAGAIN = 11
export const EINVAL = 22

// arch/x86/include/asm/shared/tdx.h: TDG.VP.VMCALL status codes the guest sees in r10 (u64: bigint).
export const TDVMCALL_STATUS_SUCCESS = 0n
export const TDVMCALL_STATUS_RETRY = 1n
export const TDVMCALL_STATUS_INVALID_OPERAND = 0x8000000000000000n
export const TDVMCALL_STATUS_ALIGN_ERROR = 0x8000000000000002n
export const TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED = 0x8000000000000003n
/** The MapGPA leaf, in r11 when the guest calls. */
export const TDVMCALL_MAP_GPA = 0x10001

// arch/x86/kvm/vmx/tdx.c
/** KVM splits a TDX MapGPA into chunks of at most this many bytes. */
export const TDX_MAP_GPA_MAX_LEN = 2 * 1024 * 1024

// arch/x86/include/asm/sev-common.h: SNP page state change (GHCB MSR protocol and PSC request).
/** The most entries the Linux guest puts in one PSC request (set_pages_state's buffer). */
export const VMGEXIT_PSC_MAX_ENTRY = 64
/** The most entries a PSC request can hold (the GHCB shared buffer); KVM refuses more. */
export const VMGEXIT_PSC_MAX_COUNT = 253
/** sw_exit_info_2 errors of a PSC request. */
export const VMGEXIT_PSC_ERROR_GENERIC = 0x100 * 2 ** 32
export const VMGEXIT_PSC_ERROR_INVALID_HDR = 2 ** 32 + 1
export const VMGEXIT_PSC_ERROR_INVALID_ENTRY = 2 ** 32 + 2
/** GHCB MSR protocol: the response, and the generic error response (bit 63 set; u64: bigint). */
export const GHCB_MSR_PSC_RESP = 0x015
export const GHCB_MSR_PSC_RESP_ERROR = 0x8000000000000015n
/** Termination request: request code, Linux reason set, "page state change failed". */
export const GHCB_MSR_TERM_REQ = 0x100
export const SEV_TERM_SET_LINUX = 1
export const GHCB_TERM_PSC = 1

// arch/x86/include/asm/page_types.h
export const PAGE_SHIFT = 12
export const PAGE_SIZE = 4096

// arch/x86/kvm/mmu.h: kvm_mmu_max_gfn falls back to 52 physical address bits.
/** The largest guest physical address width KVM models (MAXPHYADDR 52). */
export const GPA_LIMIT = 2 ** 52

/** errno names carried beside KVM-mirroring results. */
export type Errno = 'EFAULT' | 'EHWPOISON' | 'EINVAL' | 'EEXIST' | 'ENOENT' | 'E2BIG' | 'EPERM'

// The KVM numbers that cross the wire, under their KVM names: exit reasons, memory fault
// flags, the conversion hypercall's bits, I/O directions and system event types. They are
// KVM's facts, named once in src/kvm/constants.ts (a leaf file with no imports); everything
// outside the core, the client included, takes them from here.
export {
  KVM_EXIT_UNKNOWN, KVM_EXIT_IO, KVM_EXIT_HYPERCALL, KVM_EXIT_HLT, KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_MEMORY_FAULT,
  EXIT_REASON_NAMES,
  KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_PAGE_SZ_4K, KVM_MAP_GPA_RANGE_PAGE_SZ_2M,
  KVM_MAP_GPA_RANGE_PAGE_SZ_1G, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MAP_GPA_RANGE_DECRYPTED,
  KVM_EXIT_HYPERCALL_LONG_MODE,
  KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT,
  KVM_SYSTEM_EVENT_SHUTDOWN, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_CRASH,
  KVM_SYSTEM_EVENT_WAKEUP, KVM_SYSTEM_EVENT_SUSPEND, KVM_SYSTEM_EVENT_SEV_TERM,
  KVM_SYSTEM_EVENT_TDX_FATAL,
  KVM_EPERM, KVM_EINVAL, KVM_ENOSYS,
  PAGE_SIZE, GPA_LIMIT
} from '../src/kvm/constants.js'
export type { ExitReasonCode, Errno } from '../src/kvm/constants.js'

// Reading an exit the way KVM says it must be read: memory_fault is valid only when KVM_RUN
// returned -1 with EFAULT/EHWPOISON and exit_reason is KVM_EXIT_MEMORY_FAULT (a stale
// memory_fault can ride along on another exit: docs/spec/kvm-abi.md sections 2 and 7).
// The server's rules and every client policy read exits through these, never by hand.
import type { ExitRecord, MemoryFault } from './exit.js'
import {
  KVM_EXIT_HYPERCALL, KVM_EXIT_IO, KVM_EXIT_IO_IN, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO,
  KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEMORY_EXIT_FLAG_PRIVATE,
  KVM_SYSTEM_EVENT_CRASH, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SEV_TERM, KVM_SYSTEM_EVENT_SHUTDOWN,
  KVM_SYSTEM_EVENT_SUSPEND, KVM_SYSTEM_EVENT_TDX_FATAL, KVM_SYSTEM_EVENT_WAKEUP
} from './kvm.js'

/** The fields of an exit these read: the core's record and the stream's message both fit. */
type ExitLike = Pick<ExitRecord, 'exit_reason' | 'run' | 'memory_fault' | 'hypercall' | 'io' | 'mmio'>

/** The memory fault of this exit with its errno, if it really is one. */
export function memoryFaultOf (exit: ExitLike): (MemoryFault & { errno: 'EFAULT' | 'EHWPOISON' }) | undefined {
  if (exit.exit_reason !== KVM_EXIT_MEMORY_FAULT || exit.run.ret !== -1 || exit.memory_fault === undefined) return undefined
  return { ...exit.memory_fault, errno: exit.run.errno }
}

/** Whether the faulting access wanted private memory (memory_fault.flags PRIVATE). */
export const faultWantsPrivate = (fault: MemoryFault): boolean => (fault.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) !== 0

/** The explicit conversion request: KVM_EXIT_HYPERCALL with nr KVM_HC_MAP_GPA_RANGE. */
export function mapGpaRangeOf (exit: ExitLike): { gpa: number, npages: number, private: boolean } | undefined {
  const hc = exit.hypercall
  if (exit.exit_reason !== KVM_EXIT_HYPERCALL || hc === undefined || hc.nr !== KVM_HC_MAP_GPA_RANGE) return undefined
  const [gpa = 0, npages = 0, attrs = 0] = hc.args
  return { gpa, npages, private: (attrs & KVM_MAP_GPA_RANGE_ENCRYPTED) !== 0 }
}

/**
 * Whether the exit asks for private memory (a memory fault's flags, a MAP_GPA_RANGE's
 * direction); undefined when the question does not apply to it.
 */
export function wantsPrivate (exit: ExitLike): boolean | undefined {
  const fault = memoryFaultOf(exit)
  if (fault !== undefined) return faultWantsPrivate(fault)
  return mapGpaRangeOf(exit)?.private
}

/** An IN or an MMIO read: the exit waits for data, `count` values or `len` bytes. */
export function readDataLength (exit: ExitLike): number | undefined {
  if (exit.exit_reason === KVM_EXIT_IO && exit.io !== undefined && exit.io.direction === KVM_EXIT_IO_IN) return exit.io.count
  if (exit.exit_reason === KVM_EXIT_MMIO && exit.mmio !== undefined && !exit.mmio.is_write) return exit.mmio.len
  return undefined
}

/** The KVM names of system_event.type values. */
export const SYSTEM_EVENT_NAMES: Readonly<Record<number, string>> = {
  [KVM_SYSTEM_EVENT_SHUTDOWN]: 'KVM_SYSTEM_EVENT_SHUTDOWN',
  [KVM_SYSTEM_EVENT_RESET]: 'KVM_SYSTEM_EVENT_RESET',
  [KVM_SYSTEM_EVENT_CRASH]: 'KVM_SYSTEM_EVENT_CRASH',
  [KVM_SYSTEM_EVENT_WAKEUP]: 'KVM_SYSTEM_EVENT_WAKEUP',
  [KVM_SYSTEM_EVENT_SUSPEND]: 'KVM_SYSTEM_EVENT_SUSPEND',
  [KVM_SYSTEM_EVENT_SEV_TERM]: 'KVM_SYSTEM_EVENT_SEV_TERM',
  [KVM_SYSTEM_EVENT_TDX_FATAL]: 'KVM_SYSTEM_EVENT_TDX_FATAL'
}

/** A system event's KVM name, e.g. KVM_SYSTEM_EVENT_SEV_TERM (the `crashed` state's reason). */
export function systemEventName (type: number | undefined): string {
  return type === undefined ? 'KVM_EXIT_SYSTEM_EVENT' : SYSTEM_EVENT_NAMES[type] ?? `KVM_SYSTEM_EVENT_${type}`
}

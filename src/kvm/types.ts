// The core's public data shapes. Everything here is plain JSON-able data so that a VM's
// whole state (pending exits included) can be snapshotted and restored.
import type { Errno, ExitReasonName } from './constants.js'
import type { Program } from './program/types.js'

export type VmType = 'default' | 'sw_protected' | 'snp' | 'tdx'

/**
 * Which KVM's handling of the hypercall.ret userspace writes for a TDX MapGPA or an SNP page
 * state change (docs/kvm-fidelity.md): '6.19' takes any non-zero value as a failure; 'next'
 * (the kvm-x86 tree: "KVM: TDX: Allow userspace to return errors to guest for MAPGPA") takes
 * 0, EAGAIN (TDX: RETRY) or EINVAL, and fails KVM_RUN with EINVAL for anything else.
 */
export type KvmAbi = '6.19' | 'next'
export const KVM_ABIS: readonly KvmAbi[] = ['6.19', 'next']
export const DEFAULT_KVM_ABI: KvmAbi = 'next'

/** One memslot, as KVM_SET_USER_MEMORY_REGION2 would create it. */
export interface MemslotConfig {
  slot: number
  gpa: number
  size: number
  /** Backed by a guest_memfd, so it can hold private pages. */
  guest_memfd: boolean
}

export interface VmConfig {
  type: VmType
  vcpus: number
  memslots: MemslotConfig[]
  /** What every guest_memfd slot starts as; shared slots always start shared. */
  initial_attributes: 'private' | 'shared'
  /** TDX only: guest physical address width, which places the shared bit (47 or 51). */
  gpaw: 48 | 52
  program: Program
  seed: number
  /** KVM_CAP_EXIT_HYPERCALL with KVM_HC_MAP_GPA_RANGE enabled (QEMU enables it). */
  hypercall_exit: boolean
  /** The KVM whose hypercall.ret handling to follow; DEFAULT_KVM_ABI when absent. */
  kvm_abi?: KvmAbi
}

/** kvm_run.memory_fault */
export interface MemoryFault { flags: number, gpa: number, size: number }
/** kvm_run.hypercall */
export interface Hypercall { nr: number, args: number[], ret: number, flags: number }
/** kvm_run.io; data holds `count` values of `size` bytes each. */
export interface Io { direction: number, size: number, port: number, count: number, data: number[] }
/** kvm_run.mmio; data holds `len` bytes. */
export interface Mmio { phys_addr: number, len: number, is_write: boolean, data: number[] }
/** kvm_run.system_event */
export interface SystemEvent { type: number, ndata: number, data: number[] }

/** What KVM_RUN returned: 0, or -1 with errno for KVM_EXIT_MEMORY_FAULT only. */
export type RunResult = { ret: 0 } | { ret: -1, errno: 'EFAULT' | 'EHWPOISON' }

/**
 * One exit as clients see it (the stream adds type, vm and seq). Exactly the contract's
 * fields: one payload, named as in kvm_run. `memory_fault` may also appear beside another
 * payload when KVM filled it and then suppressed the fault (docs/spec/kvm-abi.md section 7): it is
 * valid only when run.ret is -1 and exit_reason is KVM_EXIT_MEMORY_FAULT.
 */
export interface ExitRecord {
  exit: number
  vcpu: number
  reason: ExitReasonName
  exit_reason: number
  run: RunResult
  memory_fault?: MemoryFault
  hypercall?: Hypercall
  io?: Io
  mmio?: Mmio
  system_event?: SystemEvent
}

/**
 * A decision on a pending exit: what userspace writes into kvm_run before KVM_RUN. `inject`
 * "mce" (EHWPOISON memory faults only) is the VMM injecting a machine check before it runs
 * the vCPU again (KVM_SET_VCPU_EVENTS): the guest's #MC handler abandons the access. A plain
 * resume re-executes the access, which faults again.
 */
export type Decision =
  | { action: 'convert' }
  | { action: 'resume', ret?: number, data?: number[], inject?: 'mce' }
  | { action: 'kill' }

/** Why the core refused a decision or an ioctl; `code` is stable, errno is KVM's. */
export type KvmErrorCode =
  | 'INVALID_ARGUMENT' // an ioctl's validation failed (with errno)
  | 'INVALID_ACTION' // a decision that cannot apply to this exit
  | 'EXIT_NOT_PENDING'
  | 'INVALID_PROGRAM'
  | 'INVALID_CONFIG'
  | 'VCPU_NOT_FOUND'

export class KvmError extends Error {
  readonly code: KvmErrorCode
  readonly errno: Errno | undefined
  /** For INVALID_PROGRAM: where, e.g. "program[3].body[0].gpa". */
  readonly path: string | undefined
  constructor (code: KvmErrorCode, message: string, opts: { errno?: Errno, path?: string } = {}) {
    super(message)
    this.name = 'KvmError'
    this.code = code
    this.errno = opts.errno
    this.path = opts.path
  }
}

/** An attribute extent: [gpa, gpa + size) has `attributes`. */
export interface AttributeExtent { gpa: number, size: number, attributes: number }

/** KVM_SET_MEMORY_ATTRIBUTES argument (struct kvm_memory_attributes). */
export interface MemoryAttributes { address: number, size: number, attributes: number, flags: number }

/** Per-page backing state, for the memory map (docs/spec/kvm-abi.md section 3). */
export interface BackingExtent {
  gpa: number
  size: number
  attributes: number
  /** Which backings hold a populated page: shared memory, guest_memfd, both or neither. */
  shared_populated: boolean
  private_populated: boolean
  poisoned: boolean
}

export type VcpuState = 'runnable' | 'exit_pending' | 'halted'

export interface VcpuCounters {
  /** Guest memory accesses that completed without an exit. */
  accesses: number
  exits: number
  /** Conversion hypercalls that returned an error to the guest (KVM pre-checks or ret != 0). */
  hypercall_errors: number
  machine_checks: number
  interrupts: number
}

export interface VcpuInfo {
  id: number
  state: VcpuState
  pending_exit: number | null
  counters: VcpuCounters
}

/** What one bounded slice of a vCPU produced. */
export type StepResult =
  | { kind: 'exit', exit: ExitRecord }
  | { kind: 'yield' } // budget spent, the guest still has work
  | { kind: 'halted' } // the program ended (or the vCPU was already halted)
  | { kind: 'pending' } // an exit waits for a decision; nothing ran

/**
 * What applying a decision means for the whole VM, for control/ to act on: `kill` (the
 * decision was kill), `reset` (resume after KVM_EXIT_SHUTDOWN or a SHUTDOWN/RESET system
 * event: the VMM resets the machine, as QEMU does), or `continue`.
 */
export type DecisionOutcome = { vm: 'continue' } | { vm: 'kill' } | { vm: 'reset' }

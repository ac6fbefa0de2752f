// The simulated VM: memslots, attributes, backing, poison, and its vCPUs. The single entry
// point control/ uses. Pure: no clock, no I/O; randomness comes from the config's seed.
import type {
  AttributeExtent, BackingExtent, Decision, DecisionOutcome, ExitRecord, MemoryAttributes,
  StepResult, VcpuInfo, VmConfig
} from './types.js'
import { KvmError } from './types.js'

/** The whole state of a VM as plain JSON-able data (pending exits included). */
export interface VmSnapshot {
  version: 1
  config: VmConfig
  /** Opaque to callers: the core's own state, restored by Vm.restore. */
  state: unknown
}

const notYet = (): never => { throw new KvmError('INVALID_CONFIG', 'not implemented yet') }

export class Vm {
  readonly config: VmConfig
  private constructor (config: VmConfig) { this.config = config }

  /** Validates the config (memslots, program, vcpus) and boots every vCPU at its first op. */
  static create (config: VmConfig): Vm { return new Vm(config) }
  static restore (snapshot: VmSnapshot): Vm { return new Vm(snapshot.config) }
  snapshot (): VmSnapshot { return notYet() }

  /** KVM_SET_MEMORY_ATTRIBUTES. Throws KvmError INVALID_ARGUMENT with errno EINVAL. */
  setMemoryAttributes (_arg: MemoryAttributes): void { notYet() }
  /** Attribute extents over [gpa, gpa + size), the whole guest physical space by default. */
  memoryAttributes (_gpa?: number, _size?: number): AttributeExtent[] { return notYet() }
  /** Backing state extents (populated shared / guest_memfd, poisoned) over a range. */
  backing (_gpa?: number, _size?: number): BackingExtent[] { return notYet() }
  /** Hardware-poison the guest_memfd page holding gpa (memory_failure on a gmem folio). */
  poison (_gpa: number): void { notYet() }

  get vcpuCount (): number { return this.config.vcpus }
  vcpu (_id: number): VcpuInfo { return notYet() }
  vcpus (): VcpuInfo[] { return notYet() }
  /** Runs one vCPU for at most `budget` steps (one memory access or op each). */
  run (_vcpu: number, _budget: number): StepResult { return notYet() }
  /** Every exit that waits for a decision, oldest first. */
  pendingExits (): ExitRecord[] { return notYet() }
  /**
   * Records userspace's answer to a pending exit, as writing kvm_run does; it takes effect
   * when the vCPU next runs. Throws KvmError EXIT_NOT_PENDING or INVALID_ACTION (the exit
   * stays pending).
   */
  decide (_vcpu: number, _exit: number, _decision: Decision): DecisionOutcome { return notYet() }
  /** Makes an interrupt pending on a vCPU (the guest takes it at its next op boundary). */
  injectInterrupt (_vcpu: number): void { notYet() }
  /** Back to the boot state (memory, attributes, vCPUs) with exit ids still never reused. */
  reset (): void { notYet() }
}

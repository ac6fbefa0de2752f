// Every call that changes a VM's core, as plain data, in the order control/ made it. The core
// is pure and deterministic (src/kvm/vm.ts): a snapshot plus the inputs that followed it give
// back exactly the same VM, pending exits, exit ids and random state included. The durable
// store keeps them to recover after a crash, and a trace keeps them to replay a run (the
// `run` inputs are the schedule: which vCPU ran, for how much work, in what order).
//
// Control drives the core only through CoreDriver, which hands each input to the VM's
// recorders (VmEvents sinks) before it applies it. An input that throws is still recorded:
// the core throws at the same point when it is applied again, so replay ignores throws.
import type { Decision, DecisionOutcome, MemoryAttributes, StepResult, Vm } from '../kvm/index.js'
import type { VmRecord } from './record.js'

export type CoreInput =
  /** Vm.run: one scheduler slice of `budget` work units. */
  | { op: 'run', vcpu: number, budget: number }
  /** Vm.decide: a decision on a pending exit (the core's form, after coreDecision). */
  | { op: 'decide', vcpu: number, exit: number, decision: Decision }
  /** Vm.setMemoryAttributes (KVM_SET_MEMORY_ATTRIBUTES) with the host's extent cap. */
  | { op: 'attributes', address: number, size: number, attributes: number, flags: number, max_extents: number }
  /** Vm.poison: memory_failure() on a guest_memfd page. */
  | { op: 'poison', gpa: number }
  /** Vm.injectInterrupt. */
  | { op: 'interrupt', vcpu: number }
  /** Vm.reset: back to boot state. */
  | { op: 'reset' }

/** Where the driver hands inputs (VmEvents, which passes them to its recorders). */
export interface InputSink {
  /** False while nobody records: the driver then builds no input object. */
  readonly recording: boolean
  input (rec: VmRecord, i: CoreInput): void
}

export class CoreDriver {
  constructor (private readonly events: InputSink) {}

  run (rec: VmRecord, vcpu: number, budget: number): StepResult {
    // The hot path: no input object unless someone records.
    if (this.events.recording) this.events.input(rec, { op: 'run', vcpu, budget })
    return rec.vm.run(vcpu, budget)
  }

  decide (rec: VmRecord, vcpu: number, exit: number, decision: Decision): DecisionOutcome {
    if (this.events.recording) this.events.input(rec, { op: 'decide', vcpu, exit, decision })
    return rec.vm.decide(vcpu, exit, decision)
  }

  setMemoryAttributes (rec: VmRecord, arg: MemoryAttributes, maxExtents: number): boolean {
    if (this.events.recording) {
      this.events.input(rec, { op: 'attributes', address: arg.address, size: arg.size, attributes: arg.attributes, flags: arg.flags, max_extents: maxExtents })
    }
    return rec.vm.setMemoryAttributes(arg, maxExtents)
  }

  poison (rec: VmRecord, gpa: number): void {
    if (this.events.recording) this.events.input(rec, { op: 'poison', gpa })
    rec.vm.poison(gpa)
  }

  interrupt (rec: VmRecord, vcpu: number): void {
    if (this.events.recording) this.events.input(rec, { op: 'interrupt', vcpu })
    rec.vm.injectInterrupt(vcpu)
  }

  reset (rec: VmRecord): void {
    if (this.events.recording) this.events.input(rec, { op: 'reset' })
    rec.vm.reset()
  }
}

/**
 * Applies a recorded input to a core, as CoreDriver did: for recovery and replay. A throw is
 * swallowed (the recorded call threw the same way, with the same effect on the core).
 * Returns the run's result for `run` inputs, so a replay can compare the exits it produces.
 */
export function applyInput (vm: Vm, i: CoreInput): StepResult | undefined {
  try {
    switch (i.op) {
      case 'run': return vm.run(i.vcpu, i.budget)
      case 'decide': vm.decide(i.vcpu, i.exit, i.decision); return undefined
      case 'attributes': vm.setMemoryAttributes({ address: i.address, size: i.size, attributes: i.attributes, flags: i.flags }, i.max_extents); return undefined
      case 'poison': vm.poison(i.gpa); return undefined
      case 'interrupt': vm.injectInterrupt(i.vcpu); return undefined
      case 'reset': vm.reset(); return undefined
    }
  } catch {
    return undefined
  }
}

// The contract's server→client event messages, built once per event. Only the JSON text is
// kept: it goes to every subscriber as is, and REST parses an exit's back when asked.
import type { ExitRecord } from '../kvm/types.js'
import type { DecidedBy, DecisionAction, ExitMessage, VmState } from './types.js'

/** {"type":"exit","vm","exit","seq","vcpu","reason","exit_reason","run",...payload} */
export function exitMessage (vm: string, seq: number, r: ExitRecord): ExitMessage {
  const m: ExitMessage = {
    type: 'exit', vm, exit: r.exit, seq, vcpu: r.vcpu, reason: r.reason, exit_reason: r.exit_reason, run: r.run
  }
  // Payloads named as in kvm_run; a stale memory_fault may ride beside another payload.
  if (r.memory_fault !== undefined) m.memory_fault = r.memory_fault
  if (r.hypercall !== undefined) m.hypercall = r.hypercall
  if (r.io !== undefined) m.io = r.io
  if (r.mmio !== undefined) m.mmio = r.mmio
  if (r.system_event !== undefined) m.system_event = r.system_event
  return m
}

/** {"type":"decided","vm","exit","seq","action","by"} */
export function decidedFrame (vm: string, exit: number, seq: number, action: DecisionAction, by: DecidedBy): string {
  // One per exit: a template rather than an object for JSON.stringify. `action` and `by`
  // are fixed words and the numbers integers, so only the VM id needs quoting.
  return `{"type":"decided","vm":${JSON.stringify(vm)},"exit":${exit},"seq":${seq},"action":"${action}","by":"${by}"}`
}

/** {"type":"state","vm","seq","state","reason"} */
export function stateFrame (vm: string, seq: number, state: VmState, reason: string): string {
  return JSON.stringify({ type: 'state', vm, seq, state, reason })
}

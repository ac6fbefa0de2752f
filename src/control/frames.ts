// The contract's server→client event messages, built once per event. Only the JSON text is
// kept: it goes to every subscriber as is, and REST parses an exit's back when asked.
import type { DecidedBy, DecisionAction, StreamVmState } from '../../schemas/common.js'
import type { ExitMessage } from '../../schemas/exit.js'
import type { ExitRecord } from '../kvm/index.js'

/**
 * {"type":"exit","vm","exit","seq","vcpu","reason","exit_reason","run",...payload,"pending"}.
 * The core's record is assigned to the wire's type field by field, so the compiler checks
 * that the two agree.
 */
export function exitMessage (vm: string, seq: number, r: ExitRecord, pending: boolean): ExitMessage {
  // Payloads named as in kvm_run; a stale memory_fault may ride beside another payload.
  // Absent payloads are undefined, which JSON.stringify leaves out, keeping the key order.
  return {
    type: 'exit',
    vm,
    exit: r.exit,
    seq,
    vcpu: r.vcpu,
    reason: r.reason,
    exit_reason: r.exit_reason,
    run: r.run,
    memory_fault: r.memory_fault,
    hypercall: r.hypercall,
    io: r.io,
    mmio: r.mmio,
    system_event: r.system_event,
    pending
  }
}

/**
 * JSON.stringify(exitMessage(...)), built by template: one per exit on the hot path, about
 * three times faster than stringifying the object. The core's numbers are finite, so `${n}`
 * writes what JSON.stringify would; test/control/frames.test.ts holds the two equal over
 * every preset on every VM type. `vmJson` is the VM id as JSON (the record's idJson),
 * quoted once per VM rather than per frame.
 */
export function exitFrame (vmJson: string, seq: number, r: ExitRecord, pending: boolean): string {
  const run = r.run.ret === 0 ? '{"ret":0}' : `{"ret":-1,"errno":"${r.run.errno}"}`
  let s = `{"type":"exit","vm":${vmJson},"exit":${r.exit},"seq":${seq},"vcpu":${r.vcpu},"reason":"${r.reason}","exit_reason":${r.exit_reason},"run":${run}`
  const mf = r.memory_fault
  if (mf !== undefined) s += `,"memory_fault":{"flags":${mf.flags},"gpa":${mf.gpa},"size":${mf.size}}`
  const hc = r.hypercall
  if (hc !== undefined) s += `,"hypercall":{"nr":${hc.nr},"args":[${hc.args.join(',')}],"ret":${hc.ret},"flags":${hc.flags}}`
  // Rarer payloads with variable-length data: JSON.stringify.
  if (r.io !== undefined) s += `,"io":${JSON.stringify(r.io)}`
  if (r.mmio !== undefined) s += `,"mmio":${JSON.stringify(r.mmio)}`
  if (r.system_event !== undefined) s += `,"system_event":${JSON.stringify(r.system_event)}`
  return s + (pending ? ',"pending":true}' : ',"pending":false}')
}

/** {"type":"decided","vm","exit","seq","action","by"}; `vmJson` is the VM id as JSON. */
export function decidedFrame (vmJson: string, exit: number, seq: number, action: DecisionAction, by: DecidedBy): string {
  // One per exit: a template rather than an object for JSON.stringify. `action` and `by`
  // are fixed words and the numbers integers; the VM id comes quoted.
  return `{"type":"decided","vm":${vmJson},"exit":${exit},"seq":${seq},"action":"${action}","by":"${by}"}`
}

/** {"type":"state","vm","seq","state","reason"} */
export function stateFrame (vm: string, seq: number, state: StreamVmState, reason: string): string {
  return JSON.stringify({ type: 'state', vm, seq, state, reason })
}

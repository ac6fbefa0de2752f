// Decisions on pending exits: each applied once, whoever sends it (controller, REST, rule,
// timeout), recorded in the exit log and announced with a `decided` event. What a decision
// means for the whole VM (kill, reset) is vm-actions.ts's to act on.
import type { DecidedBy } from '../../schemas/common.js'
import type { DecisionBody } from '../../schemas/exit.js'
import type { Decision, DecisionOutcome } from '../kvm/index.js'
import { FaultlineError } from '../errors.js'
import type { CoreDriver } from './core-inputs.js'
import type { VmEvents } from './events.js'
import { decidedFrame } from './frames.js'
import type { PendingExit, VmRecord } from './record.js'
import type { ControlStats } from './stats.js'
import type { Clock } from './types.js'

/** A decision as REST and the stream send it: the core's Decision plus a free-text reason. */
export type DecideInput = DecisionBody

/** The core's decision for a wire decision (the journal keeps the wire one). */
export function coreDecision (d: DecideInput): Decision {
  if (d.action !== 'resume') {
    // ret, data and inject mean something to resume only: refused, not silently dropped.
    const extra = (['ret', 'data', 'inject'] as const).filter(k => d[k] !== undefined)
    if (extra.length > 0) throw new FaultlineError('VALIDATION', `${extra.join(', ')} ${extra.length === 1 ? 'goes' : 'go'} with resume only, not ${d.action}`)
    return { action: d.action }
  }
  const out: Decision = { action: 'resume' }
  if (d.ret !== undefined) out.ret = d.ret
  if (d.data !== undefined) out.data = d.data
  if (d.inject !== undefined) out.inject = d.inject
  return out
}

export class Decisions {
  constructor (private readonly events: VmEvents, private readonly driver: CoreDriver, private readonly clock: Clock, private readonly stats?: ControlStats) {}

  /**
   * Applies a decision to a pending exit. EXIT_NOT_PENDING when it is not pending; the
   * core's INVALID_ACTION (the exit stays pending) propagates. Returns what it means for
   * the VM.
   */
  apply (rec: VmRecord, exit: number, d: DecideInput, by: DecidedBy): DecisionOutcome['vm'] {
    const p = rec.pending.get(exit)
    if (p === undefined) throw new FaultlineError('EXIT_NOT_PENDING', `exit ${exit} of VM ${rec.id} is not pending`)
    const outcome = this.driver.decide(rec, p.vcpu, exit, coreDecision(d))
    this.record(rec, exit, d, by)
    return outcome.vm
  }

  /** Closes every pending exit with a `decided` kill so that nothing waits for ever. */
  closeAll (rec: VmRecord, by: DecidedBy): void {
    for (const [id, p] of rec.pending.entries()) {
      try { this.driver.decide(rec, p.vcpu, id, { action: 'kill' }) } catch { /* the core may have dropped it already */ }
      this.record(rec, id, { action: 'kill' }, by)
    }
  }

  /** Marks a pending exit decided and publishes `decided`; the core already has the decision. */
  record (rec: VmRecord, exit: number, d: DecideInput, by: DecidedBy): void {
    const p = rec.pending.get(exit)
    if (p === undefined) return
    this.clearTimer(p)
    rec.pending.delete(exit)
    rec.blocked.delete(p.vcpu)
    rec.counters.decisions++
    if (by === 'rule') rec.counters.by_rule++
    if (by === 'timeout') rec.counters.by_timeout++
    this.stats?.decision(d.action, by, (performance.now() - p.published) / 1000, p.span)
    const seq = this.events.nextSeq(rec)
    const entry = rec.exits.get(exit)
    if (entry !== undefined) {
      entry.decision = { action: d.action, by, seq }
      if (d.action === 'resume' && d.ret !== undefined) entry.decision.ret = d.ret
      if (d.action === 'resume' && d.data !== undefined) entry.decision.data = d.data
      if (d.action === 'resume' && d.inject !== undefined) entry.decision.inject = d.inject
      if (d.reason !== undefined) entry.decision.reason = d.reason
    }
    this.events.publish(rec, { vm: rec.id, tenant: rec.tenant, seq, type: 'decided', exit, frame: decidedFrame(rec.idJson, exit, seq, d.action, by) })
  }

  /** Calls `fire` after the VM's decision timeout, unless the exit is decided first. */
  armTimeout (rec: VmRecord, exit: number, fire: () => void): void {
    const ms = rec.policy.decision_timeout_ms
    const p = rec.pending.get(exit)
    if (ms === null || p === undefined) return
    p.timer = this.clock.setTimeout(() => { p.timer = undefined; fire() }, ms)
  }

  /** Stops every timer of the VM; its exits stay pending. */
  clearTimers (rec: VmRecord): void {
    for (const p of rec.pending.values()) this.clearTimer(p)
  }

  private clearTimer (p: PendingExit): void {
    if (p.timer !== undefined) { this.clock.clearTimeout(p.timer); p.timer = undefined }
  }
}

// Each VM's events: numbered in one sequence per VM, kept in its journal for replay, and
// handed synchronously to every subscriber. State changes are events too.
import type { VmState } from '../../schemas/common.js'
import { EventBus } from './bus.js'
import { stateFrame } from './frames.js'
import type { VmRecord } from './record.js'
import type { ControlEvent, ControlLogger, EventFilter, EventListener } from './types.js'

export class VmEvents {
  private readonly bus: EventBus
  constructor (logger?: ControlLogger) {
    this.bus = new EventBus(logger)
  }

  /** Synchronous delivery, in seq order per VM; returns the unsubscribe function. */
  subscribe (filter: EventFilter, listener: EventListener): () => void {
    return this.bus.subscribe(filter, listener)
  }

  /** The VM's next seq: every event takes one, never reused. */
  nextSeq (rec: VmRecord): number {
    return ++rec.seq
  }

  publish (rec: VmRecord, e: ControlEvent): void {
    rec.journal.append(e)
    this.bus.publish(e)
  }

  /** A `state` event with the record's current state and reason. */
  state (rec: VmRecord): void {
    const seq = this.nextSeq(rec)
    this.publish(rec, { vm: rec.id, tenant: rec.tenant, seq, type: 'state', frame: stateFrame(rec.id, seq, rec.state, rec.state_reason) })
  }

  /** The VM's last event: state `deleted`, sent as it is forgotten. */
  deleted (rec: VmRecord): void {
    const seq = this.nextSeq(rec)
    this.publish(rec, { vm: rec.id, tenant: rec.tenant, seq, type: 'state', deleted: true, frame: stateFrame(rec.id, seq, 'deleted', 'deleted') })
  }

  /** Sets the state and announces it. */
  setState (rec: VmRecord, state: VmState, reason: string): void {
    rec.state = state
    rec.state_reason = reason
    this.state(rec)
  }
}

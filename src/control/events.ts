// Each VM's events: numbered in one sequence per VM, kept in its journal for replay, and
// handed synchronously to every subscriber. State changes are events too.
//
// Recorders (the durable store, trace journals) see more than subscribers: every input to a
// VM's core (core-inputs.ts) and every event, in the one order they happened, each event
// before any subscriber has it.
import type { VmState } from '../../schemas/common.js'
import { EventBus } from './bus.js'
import type { CoreInput } from './core-inputs.js'
import { stateFrame } from './frames.js'
import type { VmRecord } from './record.js'
import type { ControlEvent, ControlLogger, EventFilter, EventListener } from './types.js'

/** Sees each VM's history as it is made: inputs to its core and events, in order. */
export interface VmRecorder {
  /** An input to the VM's core, before the core gets it. */
  input (rec: VmRecord, i: CoreInput): void
  /** An event, once the journal has it and before any subscriber does. */
  event (rec: VmRecord, e: ControlEvent): void
  /** A VM that was there before the recorder was added (recovered from the store). */
  recovered? (rec: VmRecord): void
  /** Every VM's share of the journal budget got smaller: trim what is kept to it now. */
  shrink? (): void
}

export class VmEvents {
  private readonly bus: EventBus
  private readonly recorders: VmRecorder[] = []
  /** Whether any recorder listens (CoreDriver builds no input object otherwise). */
  recording = false
  constructor (logger?: ControlLogger) {
    this.bus = new EventBus(logger)
  }

  /** Adds a recorder; a recorder is never removed (it lives as long as control/). */
  record (r: VmRecorder): void {
    this.recorders.push(r)
    this.recording = true
  }

  input (rec: VmRecord, i: CoreInput): void {
    for (const r of this.recorders) r.input(rec, i)
  }

  /** The journal shares shrank (a new VM): recorders that keep history trim it. */
  shrink (): void {
    for (const r of this.recorders) r.shrink?.()
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
    for (const r of this.recorders) r.event(rec, e)
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

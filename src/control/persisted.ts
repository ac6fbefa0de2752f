// The documents the store keeps for a VM (docs/storage.md): a checkpoint (the whole record
// at a moment) and, per commit after it, a log entry (the inputs to its core, its
// events with the decisions they carry, and its small changing fields). Plain JSON; the
// store never looks inside.
import type { VmState } from '../../schemas/common.js'
import type { DecisionRecord } from '../../schemas/exit.js'
import type { Policy } from '../../schemas/vm.js'
import type { VmSnapshot } from '../kvm/index.js'
import type { CoreInput } from './core-inputs.js'
import type { VmRecord } from './record.js'
import type { ControlEvent } from './types.js'

/**
 * An event as kept: its seq, kind, exit id, and its exact frame, or in a log entry what
 * rebuilds it exactly: an exit's frame from the run that made it (the core is
 * deterministic) and its `pending` flag `p`; a decided frame from its decision `d`.
 */
export interface LoggedEvent {
  s: number
  t: ControlEvent['type']
  x?: number
  f?: string
  p?: boolean
  d?: DecisionRecord
}

/** What changes in a record beside its core and its events. */
export interface RecordFields {
  state: VmState
  reason: string
  seq: number
  counters: VmRecord['counters']
  /** Round-robin position among the vCPUs, halted and blocked vCPUs (the scheduler's marks). */
  next: number
  halted: number[]
  blocked: number[]
  /** Driven by a trace replay (VmRecord.replay). */
  replay?: true
}

export interface CheckpointDoc {
  v: 1
  name: string | null
  policy: Policy
  preset: string | null
  created_at: number
  r: RecordFields
  core: VmSnapshot
  journal: LoggedEvent[]
  /** The exit log, oldest first; `f` left out when the journal holds the exit's event. */
  exits: { x: number, s: number, d: DecisionRecord | null, f?: string }[]
}

export interface LogDoc {
  r: RecordFields
  i: CoreInput[]
  e: LoggedEvent[]
}

export function recordFields (rec: VmRecord): RecordFields {
  return {
    state: rec.state,
    reason: rec.state_reason,
    seq: rec.seq,
    counters: { ...rec.counters },
    next: rec.nextVcpu,
    halted: [...rec.halted],
    blocked: [...rec.blocked],
    ...(rec.replay === true ? { replay: true as const } : {})
  }
}

/** An event with its frame (a checkpoint's journal). */
export function loggedEvent (e: ControlEvent): LoggedEvent {
  const out: LoggedEvent = { s: e.seq, t: e.type, f: e.frame }
  if (e.exit !== undefined) out.x = e.exit
  return out
}

const PENDING_END = '"pending":true}'

/**
 * An event for a log entry: exits and decisions without their frames (most of a turn's
 * bytes), which recovery rebuilds; `d` is the exit log's record of a decided exit.
 */
export function logEvent (e: ControlEvent, d: DecisionRecord | null | undefined): LoggedEvent {
  if (e.type === 'exit' && e.exit !== undefined) return { s: e.seq, t: 'exit', x: e.exit, p: e.frame.endsWith(PENDING_END) }
  if (e.type === 'decided' && e.exit !== undefined && d !== undefined && d !== null) return { s: e.seq, t: 'decided', x: e.exit, d }
  return loggedEvent(e)
}

export function checkpointDoc (rec: VmRecord): CheckpointDoc {
  const journal = rec.journal.values()
  const inJournal = new Set(journal.map(e => e.seq))
  const exits: CheckpointDoc['exits'] = []
  for (const e of rec.exits.values()) {
    const x = e.event.exit as number
    exits.push(inJournal.has(e.event.seq) ? { x, s: e.event.seq, d: e.decision } : { x, s: e.event.seq, d: e.decision, f: e.event.frame })
  }
  return {
    v: 1,
    name: rec.name,
    policy: rec.policy,
    preset: rec.preset,
    created_at: rec.created_at,
    r: recordFields(rec),
    core: rec.vm.snapshot(),
    journal: journal.map(e => loggedEvent(e)),
    exits
  }
}

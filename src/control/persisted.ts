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
 * An event as kept: its seq, kind, exit id, and its exact frame, or what rebuilds it
 * exactly. In a log entry: an exit's frame from the run that made it (the core is
 * deterministic) and its `pending` flag `p`; a decided frame from its decision `d` (whose
 * `seq`, the event's own, is left out). In a checkpoint's journal: an exit's frame from the
 * checkpoint's exit log, a decided frame from the decision kept there.
 */
export interface LoggedEvent {
  s: number
  t: ControlEvent['type']
  x?: number
  f?: string
  p?: boolean
  d?: LoggedDecision
}

/** A decision record in a log entry: `seq` is the decided event's own, so it is left out. */
export type LoggedDecision = Omit<DecisionRecord, 'seq'> & { seq?: number }

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

/**
 * The fields of a log entry that changed since the entry (or checkpoint) before it: about
 * half the bytes of the whole fields, which were most of a busy VM's entry. `seq` is left
 * out when it is the entry's last event's; `replay` is there only when it flipped.
 */
export interface FieldsDelta {
  state?: VmState
  reason?: string
  seq?: number
  counters?: Partial<VmRecord['counters']>
  next?: number
  halted?: number[]
  blocked?: number[]
  replay?: boolean
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
  /**
   * The exit log, oldest first, each exit's frame with it. (Checkpoints written before
   * the journal kept references left `f` out when the journal held the exit's event.)
   */
  exits: { x: number, s: number, d: DecisionRecord | null, f?: string }[]
}

export interface LogDoc {
  /** The fields whole (entries written before `u`). */
  r?: RecordFields
  /** The fields that changed. */
  u?: FieldsDelta
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

/** An event with its frame. */
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
  if (e.type === 'decided' && e.exit !== undefined && d !== undefined && d !== null) return { s: e.seq, t: 'decided', x: e.exit, d: loggedDecision(d, e.seq) }
  return loggedEvent(e)
}

function loggedDecision (d: DecisionRecord, seq: number): LoggedDecision {
  if (d.seq !== seq) return d
  const out: LoggedDecision = { action: d.action, by: d.by }
  if (d.ret !== undefined) out.ret = d.ret
  if (d.data !== undefined) out.data = d.data
  if (d.inject !== undefined) out.inject = d.inject
  if (d.reason !== undefined) out.reason = d.reason
  return out
}

/** A logged decision as the exit log keeps it: `seq` back in its place. */
export function decisionOf (d: LoggedDecision, seq: number): DecisionRecord {
  if (d.seq !== undefined) return d as DecisionRecord
  const { action, by, ...more } = d
  return { action, by, seq, ...more }
}

const COUNTERS = ['exits', 'decisions', 'by_rule', 'by_timeout'] as const

/**
 * The fields of `rec` that differ from `last` (the fields as the store has them), with
 * `last` brought up to date. `lastSeq`: the seq of the entry's last event, if it has one.
 */
export function changedFields (last: RecordFields, rec: VmRecord, lastSeq: number | undefined): FieldsDelta {
  const u: FieldsDelta = {}
  if (rec.state !== last.state) u.state = last.state = rec.state
  if (rec.state_reason !== last.reason) u.reason = last.reason = rec.state_reason
  if (rec.seq !== (lastSeq ?? last.seq)) u.seq = rec.seq
  last.seq = rec.seq
  for (const k of COUNTERS) {
    if (rec.counters[k] !== last.counters[k]) (u.counters ??= {})[k] = last.counters[k] = rec.counters[k]
  }
  if (rec.nextVcpu !== last.next) u.next = last.next = rec.nextVcpu
  if (!sameOrder(rec.halted, last.halted)) u.halted = last.halted = [...rec.halted]
  if (!sameOrder(rec.blocked, last.blocked)) u.blocked = last.blocked = [...rec.blocked]
  const replay = rec.replay === true
  if (replay !== (last.replay === true)) {
    u.replay = replay
    if (replay) last.replay = true
    else delete last.replay
  }
  return u
}

/** The fields after a log entry: `fields` (a copy of its own, changed in place) with the entry's applied. */
export function applyFields (fields: RecordFields, doc: LogDoc): RecordFields {
  if (doc.r !== undefined) return { ...doc.r, counters: { ...doc.r.counters } }
  const u = doc.u ?? {}
  if (u.state !== undefined) fields.state = u.state
  if (u.reason !== undefined) fields.reason = u.reason
  fields.seq = u.seq ?? doc.e.at(-1)?.s ?? fields.seq
  if (u.counters !== undefined) Object.assign(fields.counters, u.counters)
  if (u.next !== undefined) fields.next = u.next
  if (u.halted !== undefined) fields.halted = u.halted
  if (u.blocked !== undefined) fields.blocked = u.blocked
  if (u.replay === true) fields.replay = true
  if (u.replay === false) delete fields.replay
  return fields
}

function sameOrder (set: Set<number>, list: number[]): boolean {
  if (set.size !== list.length) return false
  let k = 0
  for (const v of set) if (v !== list[k++]) return false
  return true
}

export function checkpointDoc (rec: VmRecord): CheckpointDoc {
  const exits: CheckpointDoc['exits'] = []
  for (const e of rec.exits.values()) exits.push({ x: e.event.exit as number, s: e.event.seq, d: e.decision, f: e.event.frame })
  return {
    v: 1,
    name: rec.name,
    policy: rec.policy,
    preset: rec.preset,
    created_at: rec.created_at,
    r: recordFields(rec),
    core: rec.vm.snapshot(),
    journal: rec.journal.values().map(e => journalEvent(rec, e)),
    exits
  }
}

/**
 * A journal event for a checkpoint: an exit the exit log holds, and a decision it keeps
 * for that event, by reference (the exit log's frame and record rebuild them); anything
 * else with its frame. Without the references the decided frames and a second copy of
 * each exit frame were most of a busy VM's checkpoint.
 */
function journalEvent (rec: VmRecord, e: ControlEvent): LoggedEvent {
  if (e.exit !== undefined) {
    const x = rec.exits.get(e.exit)
    if (e.type === 'exit' && x?.event === e) return { s: e.seq, t: 'exit', x: e.exit }
    if (e.type === 'decided' && x?.decision?.seq === e.seq) return { s: e.seq, t: 'decided', x: e.exit }
  }
  return loggedEvent(e)
}

// A VM back from the store: its checkpoint, then each log entry after it re-applied in
// order (inputs to the core, events to the journal and the exit log, the decisions they
// carry, the small fields). The core is deterministic, so the same inputs give the same
// core, exit ids and random state (docs/storage.md). What is not state (timers, the
// published time of a pending exit) is made anew by the caller.
import { performance } from 'node:perf_hooks'
import type { ExitRecord } from '../kvm/index.js'
import { Vm } from '../kvm/index.js'
import type { StoredVm } from '../store/store.js'
import { StoreError } from '../store/store.js'
import { applyInput } from './core-inputs.js'
import { ExitLog } from './exit-log.js'
import { decidedFrame, exitMessage } from './frames.js'
import { EventJournal } from './journal.js'
import { applyFields, decisionOf } from './persisted.js'
import type { CheckpointDoc, LogDoc, LoggedEvent, RecordFields } from './persisted.js'
import type { VmRecord } from './record.js'
import { convertSpan } from './stats.js'
import type { ControlEvent } from './types.js'
import type { JournalCaps } from './journal-budget.js'
import { PendingExits } from './pending.js'

export interface Recovered {
  rec: VmRecord
  /** The last log position, and the bytes of checkpoint and log read (compaction goes on from them). */
  pos: number
  checkpointBytes: number
  logBytes: number
}

export function recoverVm (s: StoredVm, caps: JournalCaps, file: string): Recovered {
  try {
    return rebuild(s, caps)
  } catch (e) {
    throw new StoreError(file, `VM ${s.id} cannot be recovered (${e instanceof Error ? e.message : String(e)}); the file was left as it is`)
  }
}

function rebuild (s: StoredVm, caps: JournalCaps): Recovered {
  const cp = JSON.parse(s.checkpoint.data) as CheckpointDoc
  if (cp.v !== 1) throw new Error(`checkpoint version ${String(cp.v)} is not known`)
  // The program was accepted when the VM was made: a lower limit since then does not refuse it.
  const vm = Vm.restore(cp.core, { maxInstructions: Number.MAX_SAFE_INTEGER })
  const rec: VmRecord = {
    id: s.id,
    idJson: JSON.stringify(s.id),
    tenant: s.tenant,
    name: cp.name,
    ord: s.ord,
    state: cp.r.state,
    state_reason: cp.r.reason,
    config: vm.config,
    policy: cp.policy,
    preset: cp.preset,
    created_at: cp.created_at,
    createdIso: new Date(cp.created_at).toISOString(),
    seq: cp.r.seq,
    counters: { ...cp.r.counters },
    vm,
    caps,
    journal: new EventJournal(caps),
    exits: new ExitLog(),
    pending: new PendingExits(),
    halted: new Set(),
    blocked: new Set(),
    nextVcpu: 0
  }
  // The exit log first: the journal's exits and decisions may refer to it.
  const logged = new Map<number, CheckpointDoc['exits'][number]>()
  for (const x of cp.exits) logged.set(x.x, x)
  const bySeq = new Map<number, ControlEvent>()
  for (const l of cp.journal) {
    const e = controlEvent(rec, l.f === undefined ? fromExitLog(l, logged) : l)
    bySeq.set(e.seq, e)
    rec.journal.append(e)
  }
  for (const x of cp.exits) {
    const event = bySeq.get(x.s) ?? controlEvent(rec, { s: x.s, t: 'exit', x: x.x, f: x.f ?? '' })
    rec.exits.set(x.x, { event, decision: x.d })
  }
  let fields: RecordFields = { ...cp.r, counters: { ...cp.r.counters } }
  let logBytes = 0
  for (const entry of s.log) {
    logBytes += entry.data.length
    const doc = JSON.parse(entry.data) as LogDoc
    // The exits this turn's runs make again, for the frames the log leaves out.
    const made = new Map<number, ExitRecord>()
    for (const i of doc.i) {
      const r = applyInput(vm, i)
      if (r?.kind === 'exit') made.set(r.exit.exit, r.exit)
    }
    for (const l of doc.e) {
      const e = controlEvent(rec, l, made)
      if (e.type === 'exit' && e.exit !== undefined) {
        // As the exit intake does it: logged and trimmed before the journal has it.
        rec.exits.set(e.exit, { event: e, decision: null })
        rec.exits.trim(caps.events, caps.bytes)
      } else if (e.type === 'decided' && e.exit !== undefined && l.d !== undefined) {
        const x = rec.exits.get(e.exit)
        if (x !== undefined) x.decision = decisionOf(l.d, l.s)
      }
      rec.journal.append(e)
    }
    fields = applyFields(fields, doc)
  }
  rec.state = fields.state
  rec.state_reason = fields.reason
  rec.seq = fields.seq
  rec.counters = { ...fields.counters }
  rec.nextVcpu = fields.next
  rec.halted = new Set(fields.halted)
  rec.blocked = new Set(fields.blocked)
  if (fields.replay === true) rec.replay = true
  // Pending exits: those with no decision (the log never drops one). Their time waiting
  // starts again now.
  for (const x of rec.exits.values()) {
    if (x.decision !== null || x.event.exit === undefined) continue
    const r = JSON.parse(x.event.frame) as ExitRecord
    rec.pending.set(x.event.exit, { vcpu: r.vcpu, timer: undefined, published: performance.now(), span: convertSpan(r) })
  }
  return { rec, pos: s.log.at(-1)?.pos ?? s.checkpoint.pos, checkpointBytes: s.checkpoint.data.length, logBytes }
}

/** A checkpoint's journal event kept by reference: the exit's frame, or its decision, from the exit log. */
function fromExitLog (l: LoggedEvent, logged: Map<number, CheckpointDoc['exits'][number]>): LoggedEvent {
  const x = l.x === undefined ? undefined : logged.get(l.x)
  if (l.t === 'exit' && x?.f !== undefined) return { ...l, f: x.f }
  if (l.t === 'decided' && x?.d !== null && x?.d !== undefined) return { ...l, d: x.d }
  throw new Error(`journal event ${l.s} refers to exit ${String(l.x)}, which the checkpoint's exit log does not hold`)
}

/** The event as it was published: its frame kept, or built again exactly as live. */
function controlEvent (rec: VmRecord, l: LoggedEvent, made?: Map<number, ExitRecord>): ControlEvent {
  const e: ControlEvent = { vm: rec.id, tenant: rec.tenant, seq: l.s, type: l.t, frame: l.f ?? frameOf(rec, l, made) }
  if (l.x !== undefined) e.exit = l.x
  return e
}

function frameOf (rec: VmRecord, l: LoggedEvent, made: Map<number, ExitRecord> | undefined): string {
  if (l.t === 'decided' && l.x !== undefined && l.d !== undefined) return decidedFrame(rec.idJson, l.x, l.s, l.d.action, l.d.by)
  const r = l.x === undefined ? undefined : made?.get(l.x)
  if (l.t !== 'exit' || r === undefined) throw new Error(`event ${l.s} has no frame and nothing to rebuild it from`)
  return JSON.stringify(exitMessage(rec.id, l.s, r, l.p === true))
}

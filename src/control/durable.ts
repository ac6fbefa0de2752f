// The durable store's recorder: it gathers what each VM's turn produced (inputs to its core,
// events, decisions, changed fields) and commits all of it as one transaction per
// event-loop iteration (group commit: every turn of the iteration; busy, of the next two
// iterations too), before any socket write or response carries it. Held stream frames are
// released right after that commit (afterCommit); REST and writes that go at once call
// commit() right before their bytes go; a setImmediate queued at the iteration's first
// change commits what nobody is watching. docs/storage.md says why this is enough for an
// exact recovery.
import { performance } from 'node:perf_hooks'
import type { Store } from '../store/store.js'
import { StoreError, batchSize, emptyBatch } from '../store/store.js'
import type { CoreInput } from './core-inputs.js'
import type { VmRecorder } from './events.js'
import { changedFields, checkpointDoc, logEvent, recordFields } from './persisted.js'
import type { LogDoc, LoggedEvent, RecordFields } from './persisted.js'
import type { VmRecord } from './record.js'
import type { ControlEvent } from './types.js'

/** One commit, for the store's metrics. */
export interface CommitObservation { seconds: number, bytes: number, rows: number }

export interface DurableOptions {
  /** The registry's last creation number. */
  lastOrd: () => number
  /**
   * A commit failed (rolled back): nothing of it may reach a client. The server logs and
   * exits at once, before any held write is released; the restart recovers to the last
   * commit. After a failure this recorder commits nothing more.
   */
  onFailure: (err: StoreError) => void
  /**
   * A VM's log is folded into a new checkpoint once it holds COMPACT_RATIO times the
   * checkpoint's bytes, and at least this many: a restart reads at most about three times a
   * checkpoint per VM, and each byte logged costs at most about half a byte of checkpoint
   * (amortised O(1)).
   */
  minCompactBytes?: number
  /** How recent the last group commit is for the loop to count as busy (default BUSY_MS). */
  busyMs?: number
}

interface Tracked {
  rec: VmRecord
  /** The last log position written, or covered by the checkpoint. */
  pos: number
  checkpointBytes: number
  /** Log bytes written since the checkpoint. */
  logBytes: number
  /**
   * The record's small fields as the store has them (a log entry writes what changed);
   * undefined until the VM's first checkpoint is in the batch: it covers the VM's first turn.
   */
  fields: RecordFields | undefined
  inputs: CoreInput[]
  events: LoggedEvent[]
  dirty: boolean
  gone: boolean
}

const MIN_COMPACT_BYTES = 64 * 1024
/**
 * Log bytes per checkpoint byte before a compaction. A busy VM's checkpoint is mostly its
 * exit log's frames (about 1 MB at the default bounds): at 1 it cost more to write than the log
 * it replaced (443 ms of checkpoints beside 312 ms of log documents in a 3 s throughput
 * run); 2 halves that, for a restart that reads at most three checkpoints' worth per VM.
 */
const COMPACT_RATIO = 2

/**
 * Busy (the last group commit was less than BUSY_MS ago), a commit waits for up to
 * GROUP_ITERATIONS more event-loop iterations, so that their turns join its transaction: a
 * commit's cost is mostly fixed (whole pages, locks, syscalls), and under load the next
 * iterations' decisions are already on the wire. Measured at 64 vCPUs on one socket: a
 * third fewer commits, and less CPU per exit with either store (fewer, larger writes to
 * the socket too). Idle, the deferred iterations do not block (an immediate is pending, so
 * the loop polls without waiting): a few microseconds on a round trip.
 */
const GROUP_ITERATIONS = 2
const BUSY_MS = 1

export class Durable implements VmRecorder {
  private readonly vms = new Map<string, Tracked>()
  private dirty: Tracked[] = []
  private deleted: string[] = []
  private queued = false
  /** Iterations the pending commit has waited (GROUP_ITERATIONS), and when the last one ran. */
  private deferred = 0
  private lastFlush = -Infinity
  /** What waits for the next group commit (held frames to release). */
  private waiting: (() => void)[] = []
  /** Closed, or failed once: nothing more is committed. */
  private stopped = false
  /** A commit failed: what waits for a commit is never released. */
  private failed = false
  private lastOrd = -1
  private readonly minCompact: number
  private readonly busyMs: number
  /** Called after each commit (the metrics plugin observes durations, bytes and rows). */
  observer: ((o: CommitObservation) => void) | undefined

  constructor (private readonly store: Store, private readonly opts: DurableOptions) {
    this.minCompact = opts.minCompactBytes ?? MIN_COMPACT_BYTES
    this.busyMs = opts.busyMs ?? BUSY_MS
  }

  /** A VM recovered from the store: its checkpoint and log are already there. */
  adopt (rec: VmRecord, pos: number, checkpointBytes: number, logBytes: number): void {
    this.vms.set(rec.id, { rec, pos, checkpointBytes, logBytes, fields: recordFields(rec), inputs: [], events: [], dirty: false, gone: false })
  }

  input (rec: VmRecord, i: CoreInput): void {
    const t = this.touch(rec)
    // A VM's first turn is covered by its first checkpoint, taken at the commit.
    if (t.fields !== undefined) t.inputs.push(i)
  }

  event (rec: VmRecord, e: ControlEvent): void {
    if (e.deleted === true) { this.forget(rec); return }
    const t = this.touch(rec)
    if (t.fields === undefined) return
    // The decided frame does not carry ret, data, inject or reason: the exit log's record does.
    t.events.push(logEvent(e, e.type === 'decided' && e.exit !== undefined ? rec.exits.get(e.exit)?.decision : undefined))
  }

  /** Commits what this turn produced, as one transaction; nothing when nothing changed. */
  readonly commit = (): void => {
    if (this.dirty.length === 0 && this.deleted.length === 0) return
    if (this.stopped) { this.dirty = []; this.deleted = []; return }
    const start = performance.now()
    const batch = emptyBatch()
    for (const t of this.dirty) {
      t.dirty = false
      if (t.gone) continue
      const rec = t.rec
      if (t.fields === undefined || t.logBytes >= Math.max(COMPACT_RATIO * t.checkpointBytes, this.minCompact)) {
        const cp = checkpointDoc(rec)
        const data = JSON.stringify(cp)
        t.fields = cp.r
        batch.checkpoints.push({ vm: rec.id, tenant: rec.tenant, ord: rec.ord, pos: t.pos, data })
        t.checkpointBytes = data.length
        t.logBytes = 0
      } else {
        const doc: LogDoc = { u: changedFields(t.fields, rec, t.events.at(-1)?.s), i: t.inputs, e: t.events }
        const data = JSON.stringify(doc)
        batch.log.push({ vm: rec.id, pos: ++t.pos, data })
        t.logBytes += data.length
      }
      t.inputs = []
      t.events = []
    }
    batch.deleted = this.deleted
    const ord = this.opts.lastOrd()
    if (ord !== this.lastOrd) batch.lastOrd = ord
    this.dirty = []
    this.deleted = []
    try {
      this.store.commit(batch)
    } catch (e) {
      this.stopped = true
      this.failed = true
      this.opts.onFailure(e instanceof StoreError ? e : new StoreError(this.store.file, `a commit failed (${e instanceof Error ? e.message : String(e)})`))
      return
    }
    this.lastOrd = ord
    if (this.observer !== undefined) {
      const size = batchSize(batch)
      this.observer({ seconds: (performance.now() - start) / 1000, bytes: size.bytes, rows: size.rows })
    }
  }

  /** Runs `fn` right after the group commit that ends this event-loop iteration. */
  afterCommit (fn: () => void): void {
    this.waiting.push(fn)
    this.queue()
  }

  /** The final commit, then the store is closed; later changes are not kept. */
  close (): void {
    this.commit()
    if (this.stopped) return
    this.stopped = true
    this.store.close()
  }

  private touch (rec: VmRecord): Tracked {
    let t = this.vms.get(rec.id)
    if (t === undefined) {
      t = { rec, pos: 0, checkpointBytes: 0, logBytes: 0, fields: undefined, inputs: [], events: [], dirty: false, gone: false }
      this.vms.set(rec.id, t)
    }
    if (!t.dirty) {
      t.dirty = true
      this.dirty.push(t)
      this.queue()
    }
    return t
  }

  /** A deleted VM: its rows go in this turn's commit, and nothing of it is written again. */
  private forget (rec: VmRecord): void {
    const t = this.vms.get(rec.id)
    if (t !== undefined) { t.gone = true; this.vms.delete(rec.id) }
    this.deleted.push(rec.id)
    this.queue()
  }

  /**
   * One commit per event-loop iteration: after every I/O callback of the iteration (each
   * socket read a turn) and the scheduler's tick, so that one transaction holds them all;
   * busy, per up to 1 + GROUP_ITERATIONS iterations. Nothing waiting for it has been
   * sent: held frames go out in `waiting`, after it.
   */
  private queue (): void {
    if (this.queued) return
    this.queued = true
    // From a tick, as the outbox's release without a store: a scheduler tick woken by this
    // change (a decision) is queued first, so the vCPU's next exit joins this commit and
    // leaves in the same write as its `decided` frame.
    process.nextTick(this.queueFlush)
  }

  private readonly queueFlush = (): void => { setImmediate(this.flush) }

  private readonly flush = (): void => {
    const now = performance.now()
    if (this.deferred < GROUP_ITERATIONS && now - this.lastFlush < this.busyMs && !this.stopped) {
      this.deferred++
      setImmediate(this.flush)
      return
    }
    this.deferred = 0
    this.lastFlush = now
    this.queued = false
    this.commit()
    if (this.stopped && this.failed) return
    const waiting = this.waiting
    this.waiting = []
    for (const fn of waiting) fn()
  }
}

// One VM's trace as it is made, bounded as its event journal is (its share of the journal
// budget, src/control/journal-budget.ts): at most `caps.events` event lines (exits,
// decisions, states) and `caps.bytes` of lines, inputs counted in the bytes; past either
// the oldest lines go, and the trace says where it was cut. Lines are kept as
// compact entries (an exit's frame is the event's own string) and written out when read.
import type { CoreInput } from '../control/index.js'
import type { DecidedBy, DecisionAction, StreamVmState } from '../../schemas/common.js'
import type { TraceHeader } from '../../schemas/trace.js'
import type { JournalCaps } from '../control/journal-budget.js'

/** A core decision's fields, whatever its action (the core's Decision is a union). */
export interface FlatDecision { action: DecisionAction, ret?: number, data?: number[], inject?: 'mce' }

export type TraceEntry =
  | { k: 'run', vcpu: number, budget: number, n: number }
  | { k: 'input', i: Exclude<CoreInput, { op: 'run' | 'decide' }> }
  | { k: 'exit', seq: number, exit: number, frame: string }
  | { k: 'decision', seq: number, exit: number, d: FlatDecision, by: DecidedBy, reason: string | undefined }
  | { k: 'state', seq: number, state: StreamVmState, reason: string }

/** What a run line costs in the byte bound (its JSON is about this long). */
const RUN_BYTES = 48
const INPUT_BYTES = 120

export class TraceJournal {
  private entries: TraceEntry[] = []
  private head = 0
  private events = 0
  private bytes = 0
  /** Lines dropped from the head; null when recording began after the VM was made. */
  dropped: number | null
  /** The core decisions seen as inputs, by exit, until their `decided` event names who. */
  readonly decisions = new DecisionsInFlight()

  constructor (
    /** The header, cut null; the journal fills `cut` when it is read. */
    readonly header: TraceHeader,
    private readonly caps: JournalCaps,
    fromCreation: boolean
  ) {
    this.dropped = fromCreation ? 0 : null
  }

  /** A run slice: merged into the last line when that is the same slice of the same vCPU. */
  run (vcpu: number, budget: number): void {
    const last = this.entries[this.entries.length - 1]
    // Run lines with no line between are slices that yielded (or found the vCPU blocked or
    // halted): running them n times in a row is what happened, so the count is exact.
    if (last !== undefined && last.k === 'run' && last.vcpu === vcpu && last.budget === budget && this.entries.length > this.head) { last.n++; return }
    this.push({ k: 'run', vcpu, budget, n: 1 }, RUN_BYTES, false)
  }

  push (e: TraceEntry, bytes: number, event: boolean): void {
    this.entries.push(e)
    this.bytes += bytes
    if (event) this.events++
    this.trim()
  }

  /** Drops the oldest lines past the caps (the newest line always stays). */
  trim (): void {
    while ((this.events > this.caps.events || this.bytes > this.caps.bytes) && this.entries.length - this.head > 1) this.dropHead()
  }

  /** The lines kept, oldest first. */
  kept (): TraceEntry[] {
    return this.entries.slice(this.head)
  }

  /** The first event seq kept (null when none is). */
  firstSeq (): number | null {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i] as TraceEntry
      if (e.k !== 'run' && e.k !== 'input') return e.seq
    }
    return null
  }

  private dropHead (): void {
    const e = this.entries[this.head] as TraceEntry
    this.entries[this.head] = undefined as unknown as TraceEntry
    this.head++
    this.bytes -= entryBytes(e)
    if (e.k !== 'run' && e.k !== 'input') this.events--
    if (this.dropped !== null) this.dropped++
    // Compacted now and then, so that dropping stays O(1) on average.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
  }
}

/** The bytes an entry counts for (about its JSON line's length). */
export function entryBytes (e: TraceEntry): number {
  switch (e.k) {
    case 'run': return RUN_BYTES
    case 'input': return INPUT_BYTES
    case 'exit': return e.frame.length + 24
    case 'decision': return 100 + (e.d.data?.length ?? 0) * 11 + (e.reason?.length ?? 0)
    case 'state': return 60 + e.reason.length
  }
}

/**
 * Core decisions waiting for their `decided` event, by exit. Almost always one, taken right
 * after it is put: two short arrays, because a Map that goes from one entry to none at every
 * decision rebuilds its table each time.
 */
export class DecisionsInFlight {
  private readonly exits: number[] = []
  private readonly decisions: FlatDecision[] = []

  /** The decision for `exit` (a later one replaces an earlier one the core refused). */
  put (exit: number, d: FlatDecision): void {
    const i = this.exits.lastIndexOf(exit)
    if (i >= 0) { this.decisions[i] = d; return }
    this.exits.push(exit)
    this.decisions.push(d)
  }

  /** The decision for `exit`, forgotten here; undefined when none was put. */
  take (exit: number): FlatDecision | undefined {
    const i = this.exits.lastIndexOf(exit)
    if (i < 0) return undefined
    const d = this.decisions[i] as FlatDecision
    const last = this.exits.length - 1
    // Order does not matter: the last one takes the freed place.
    this.exits[i] = this.exits[last] as number
    this.decisions[i] = this.decisions[last] as FlatDecision
    this.exits.pop()
    this.decisions.pop()
    return d
  }
}

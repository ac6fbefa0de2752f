// A VM's exits by id, oldest first, bounded: past the limit the oldest decided exits are
// dropped; pending ones are never dropped.
//
// Why arrays and not a Map: every exit adds one entry and, at the limit, drops one. In a
// Map (10,000 entries per VM) each of those is a hash-table access spread over a table
// that V8 keeps twice the entries' size and rebuilds as deleted entries fill it, and with
// many VMs those tables do not stay in the CPU's caches. Ids are given in ascending order,
// so the log is two arrays in id order with a moving head: adding is a push, dropping moves
// the head, and finding an id is one index (ids are almost always consecutive) or a binary
// search. The few exits still pending when the head passes them wait in a short list.
import type { DecisionRecord } from '../../schemas/exit.js'
import type { ControlEvent } from './types.js'

export interface ExitEntry {
  /**
   * The exit's event, frame encoded once: sent live, again to each new controller while
   * pending, and parsed back for REST. The only copy of the exit kept (up to
   * journalEvents per VM), so no message object beside it.
   */
  event: ControlEvent
  decision: DecisionRecord | null
}

/** Past this many dropped slots at the head (and half the array), the arrays are compacted. */
const COMPACT_AT = 1024

export class ExitLog {
  /** Exits from the head on, ascending ids: ids[i] is entries[i]'s; below `head` are dropped slots. */
  private ids: number[] = []
  private entries: ExitEntry[] = []
  private head = 0
  /** Exits passed by the head while pending, ascending ids: at most one per vCPU. */
  private keptIds: number[] = []
  private kept: ExitEntry[] = []
  /** Frame characters held (about bytes: frames are ASCII JSON). */
  private bytes = 0

  get size (): number { return this.kept.length + this.ids.length - this.head }

  get (id: number): ExitEntry | undefined {
    const i = this.indexOf(id)
    if (i >= 0) return this.entries[i]
    const k = this.keptIds.indexOf(id)
    return k >= 0 ? this.kept[k] : undefined
  }

  /** Adds an exit: the newest (ids only grow); an id already logged is replaced in place. */
  set (id: number, e: ExitEntry): void {
    const n = this.ids.length
    const kl = this.keptIds.length
    const last = n > this.head ? this.ids[n - 1] as number : kl > 0 ? this.keptIds[kl - 1] as number : -Infinity
    if (id > last) {
      this.ids.push(id)
      this.entries.push(e)
      this.bytes += e.event.frame.length
      return
    }
    // Only a store's odd document gets here: keep the log in id order whatever it says.
    const i = this.indexOf(id)
    if (i >= 0) {
      this.bytes += e.event.frame.length - (this.entries[i] as ExitEntry).event.frame.length
      this.entries[i] = e
      return
    }
    const k = this.keptIds.indexOf(id)
    if (k >= 0) {
      this.bytes += e.event.frame.length - (this.kept[k] as ExitEntry).event.frame.length
      this.kept[k] = e
      return
    }
    this.bytes += e.event.frame.length
    if (kl > 0 && id < (this.keptIds[kl - 1] as number)) {
      const at = lowerBound(this.keptIds, 0, kl, id)
      this.keptIds.splice(at, 0, id)
      this.kept.splice(at, 0, e)
      return
    }
    const at = lowerBound(this.ids, this.head, n, id)
    this.ids.splice(at, 0, id)
    this.entries.splice(at, 0, e)
  }

  /** Oldest first. */
  * values (): IterableIterator<ExitEntry> {
    yield * this.kept
    for (let i = this.head; i < this.entries.length; i++) yield this.entries[i] as ExitEntry
  }

  /**
   * Drops the oldest decided exits until at most `limit` are kept and their frames hold at
   * most `maxBytes` (or only pending ones are left).
   */
  trim (limit: number, maxBytes = Infinity): void {
    let size = this.size
    // The common case, checked before any closure is made: nothing to drop.
    if (size <= limit && this.bytes <= maxBytes) return
    const over = (): boolean => size > limit || this.bytes > maxBytes
    // Older than anything at the head: exits that were pending when the head passed them.
    if (this.kept.length > 0) {
      let w = 0
      for (let k = 0; k < this.kept.length; k++) {
        const e = this.kept[k] as ExitEntry
        if (e.decision === null || !over()) {
          this.keptIds[w] = this.keptIds[k] as number
          this.kept[w++] = e
        } else {
          this.bytes -= e.event.frame.length
          size--
        }
      }
      this.keptIds.length = w
      this.kept.length = w
    }
    while (over() && this.head < this.ids.length) {
      const i = this.head++
      const e = this.entries[i] as ExitEntry
      // The slot is dead now: let its entry go.
      this.entries[i] = undefined as unknown as ExitEntry
      if (e.decision === null) {
        this.keptIds.push(this.ids[i] as number)
        this.kept.push(e)
      } else {
        this.bytes -= e.event.frame.length
        size--
      }
    }
    if (this.head > COMPACT_AT && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head)
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
  }

  /** The index of `id` from the head on, or -1. */
  private indexOf (id: number): number {
    const n = this.ids.length
    if (this.head === n) return -1
    const first = this.ids[this.head] as number
    if (id < first || id > (this.ids[n - 1] as number)) return -1
    // Ids are consecutive unless the core skipped one: the slot it would have first.
    const guess = this.head + (id - first)
    if (guess < n && this.ids[guess] === id) return guess
    const i = lowerBound(this.ids, this.head, n, id)
    return this.ids[i] === id ? i : -1
  }
}

/** The first index in [from, to) whose id is >= `id` (ids ascending). */
function lowerBound (ids: readonly number[], from: number, to: number, id: number): number {
  let lo = from
  let hi = to
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((ids[mid] as number) < id) lo = mid + 1
    else hi = mid
  }
  return lo
}

// A VM's exits by id, oldest first, bounded: past the limit the oldest decided exits are
// dropped; pending ones are never dropped.
//
// Why not just walk the Map from its start and delete: V8 leaves a deleted Map entry as a
// hole until the table is rehashed, and iteration walks the holes. With 10k exits kept and
// one dropped per exit, each walk crossed thousands of holes (~7 µs per exit, measured).
// Ids are given in ascending order, so the oldest candidates are found by id instead.
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

export class ExitLog {
  private readonly byId = new Map<number, ExitEntry>()
  /** The next id trim() looks at; every id below it was dropped or is in `kept`. */
  private cursor = -1
  /** Ids below the cursor kept because they were pending, ascending: at most one per vCPU. */
  private kept: number[] = []
  private last = 0
  /** Frame characters held (about bytes: frames are ASCII JSON). */
  private bytes = 0

  get size (): number { return this.byId.size }

  get (id: number): ExitEntry | undefined { return this.byId.get(id) }

  /** Adds the newest exit (ids only grow). */
  set (id: number, e: ExitEntry): void {
    this.byId.set(id, e)
    this.bytes += e.event.frame.length
    if (this.cursor < 0) this.cursor = id
    this.last = id
  }

  /** Oldest first. */
  values (): IterableIterator<ExitEntry> { return this.byId.values() }

  /**
   * Drops the oldest decided exits until at most `limit` are kept and their frames hold at
   * most `maxBytes` (or only pending ones are left).
   */
  trim (limit: number, maxBytes = Infinity): void {
    const over = (): boolean => this.byId.size > limit || this.bytes > maxBytes
    if (!over()) return
    // Older than anything at the cursor: exits that were pending when the cursor passed.
    if (this.kept.length > 0) {
      let w = 0
      for (const id of this.kept) {
        // Only this loop drops a kept id, so each is still there.
        const e = this.byId.get(id) as ExitEntry
        if (e.decision === null || !over()) this.kept[w++] = id
        else this.drop(id, e)
      }
      this.kept.length = w
    }
    while (over() && this.cursor <= this.last) {
      const id = this.cursor++
      const e = this.byId.get(id)
      // An id the core never gave (ids need not be consecutive): nothing to drop.
      if (e === undefined) continue
      if (e.decision === null) this.kept.push(id)
      else this.drop(id, e)
    }
  }

  private drop (id: number, e: ExitEntry): void {
    this.byId.delete(id)
    this.bytes -= e.event.frame.length
  }
}

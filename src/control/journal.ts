// A VM's recent events, bounded: the last events within the VM's share of the journal
// budget (journal-budget.ts), so that a client that comes back with `since` gets exactly
// what it missed, or learns that it is gone.
import type { JournalCaps } from './journal-budget.js'
import type { ControlEvent } from './types.js'

export class EventJournal {
  /** Kept events from `head` on, seqs consecutive; below `head` are dropped slots. */
  private events: ControlEvent[] = []
  private head = 0
  private bytes = 0
  /** At most `caps.events` events and `caps.bytes` of frames (read at each append: shares move). */
  constructor (private readonly caps: JournalCaps) {}

  append (e: ControlEvent): void {
    this.events.push(e)
    this.bytes += e.frame.length
    this.trim()
  }

  /** Drops the oldest events past the caps; the newest event is always kept, whatever its size. */
  trim (): void {
    while ((this.count > this.caps.events || this.bytes > this.caps.bytes) && this.count > 1) {
      const old = this.events[this.head] as ControlEvent
      this.bytes -= old.frame.length
      this.events[this.head++] = undefined as unknown as ControlEvent
    }
    // Compacted now and then, so that dropping stays O(1) on average.
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head)
      this.head = 0
    }
  }

  private get count (): number { return this.events.length - this.head }

  get size (): number { return this.count }

  /** Every kept event, oldest first (a checkpoint keeps them). */
  values (): ControlEvent[] {
    return this.events.slice(this.head)
  }

  /** The oldest kept seq, or null when nothing is kept. */
  get oldestSeq (): number | null {
    return this.count === 0 ? null : (this.events[this.head] as ControlEvent).seq
  }

  /**
   * Events with seq > since, oldest first; null when some of them are no longer kept.
   * `latest` is the VM's current seq (events may have been made before any was kept).
   */
  after (since: number, latest: number): ControlEvent[] | null {
    if (since >= latest) return []
    const oldest = this.oldestSeq
    if (oldest === null || oldest > since + 1) return null
    const out: ControlEvent[] = []
    // Seqs are consecutive, so the first wanted one sits at a known offset.
    for (let i = this.head + since + 1 - oldest; i < this.events.length; i++) out.push(this.events[i] as ControlEvent)
    return out
  }
}

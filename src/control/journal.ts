// A VM's recent events, bounded: a ring of the last `limit` events (and at most `maxBytes`
// of their frames) so that a client that comes back with `since` gets exactly what it
// missed, or learns that it is gone.
import type { ControlEvent } from './types.js'

export class EventJournal {
  private readonly ring: (ControlEvent | undefined)[]
  private start = 0
  private count = 0
  private bytes = 0
  constructor (readonly limit: number, readonly maxBytes = Infinity) {
    this.ring = new Array<ControlEvent | undefined>(limit)
  }

  append (e: ControlEvent): void {
    if (this.count === this.limit) this.dropOldest()
    const i = (this.start + this.count) % this.limit
    this.ring[i] = e
    this.count++
    this.bytes += e.frame.length
    // The newest event is always kept, whatever its size.
    while (this.bytes > this.maxBytes && this.count > 1) this.dropOldest()
  }

  private dropOldest (): void {
    const old = this.ring[this.start] as ControlEvent
    this.bytes -= old.frame.length
    this.ring[this.start] = undefined
    this.start = (this.start + 1) % this.limit
    this.count--
  }

  get size (): number { return this.count }

  /** Every kept event, oldest first (a checkpoint keeps them). */
  values (): ControlEvent[] {
    const out: ControlEvent[] = []
    for (let k = 0; k < this.count; k++) out.push(this.ring[(this.start + k) % this.limit] as ControlEvent)
    return out
  }

  /** The oldest kept seq, or null when nothing is kept. */
  get oldestSeq (): number | null {
    return this.count === 0 ? null : (this.ring[this.start] as ControlEvent).seq
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
    // Seqs are consecutive in the ring, so the first wanted one sits at a known offset.
    for (let k = since + 1 - oldest; k < this.count; k++) {
      out.push(this.ring[(this.start + k) % this.limit] as ControlEvent)
    }
    return out
  }
}

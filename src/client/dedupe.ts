// Which stream events are new. After a reconnect the client resubscribes with `since`, and a
// controller is sent every pending exit again, so the same event can arrive twice; the
// consumer must see it once. Per VM we keep two high-water marks:
// - seq: an event at or below the last seq seen is a duplicate;
// - exit id: exits are numbered per VM from 1 in the order they happen, so an exit whose id
//   is at or below the highest delivered is one the consumer already holds. Exits are judged
//   by id, not seq, because the pending exits sent after `subscribed` carry their original
//   (older) seq, yet on a first subscription they are new to us.

export interface VmCursor {
  /** The last seq seen for this VM; undefined until the first event or `subscribed`. */
  lastSeq: number | undefined
  /** The highest exit id delivered. */
  maxExit: number
}

export class EventCursors {
  private readonly cursors = new Map<string, VmCursor>()

  get (vm: string): VmCursor {
    let cursor = this.cursors.get(vm)
    if (cursor === undefined) {
      cursor = { lastSeq: undefined, maxExit: 0 }
      this.cursors.set(vm, cursor)
    }
    return cursor
  }

  lastSeq (vm: string): number | undefined { return this.cursors.get(vm)?.lastSeq }

  /** A subscription with no `since` starts at the VM's current seq (nothing before it is replayed). */
  startAt (vm: string, seq: number): void {
    const cursor = this.get(vm)
    cursor.lastSeq = Math.max(cursor.lastSeq ?? seq, seq)
  }

  /** Records an explicit `since` asked by the caller: the replay starts after it. */
  resumeFrom (vm: string, since: number): void { this.get(vm).lastSeq = since }

  /** Whether the event is new; if it is, the marks move past it. */
  accept (event: { vm: string, seq: number, type: string, exit?: number }): boolean {
    const cursor = this.get(event.vm)
    if (event.type === 'exit' && typeof event.exit === 'number') {
      if (event.exit <= cursor.maxExit) return false
      cursor.maxExit = event.exit
      cursor.lastSeq = Math.max(cursor.lastSeq ?? event.seq, event.seq)
      return true
    }
    if (cursor.lastSeq !== undefined && event.seq <= cursor.lastSeq) return false
    cursor.lastSeq = event.seq
    return true
  }
}

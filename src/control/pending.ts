// A VM's exits waiting for a decision, by exit id, oldest first. There is at most one per
// vCPU, so few: two short arrays searched in order. A Map here had V8 reallocate its table
// each time it emptied or filled with deleted slots, which for a VM of one or two vCPUs was
// at every exit (about 5% of the stream's allocations on the 1,000-VM run).

export interface PendingExit {
  vcpu: number
  timer: unknown
  /** performance.now() when the exit was published, for the decision latency (stats.ts). */
  published: number
  /** What a convert of it converts: stats.ts convertSpan. */
  span: number
}

export class PendingExits {
  private readonly ids: number[] = []
  private readonly items: PendingExit[] = []

  get size (): number { return this.ids.length }

  get (exit: number): PendingExit | undefined {
    const i = this.ids.indexOf(exit)
    return i < 0 ? undefined : this.items[i]
  }

  has (exit: number): boolean { return this.ids.indexOf(exit) >= 0 }

  /** Adds the exit (the newest), or replaces what an exit already pending holds. */
  set (exit: number, p: PendingExit): void {
    const i = this.ids.indexOf(exit)
    if (i >= 0) { this.items[i] = p; return }
    this.ids.push(exit)
    this.items.push(p)
  }

  delete (exit: number): boolean {
    const ids = this.ids
    const items = this.items
    const i = ids.indexOf(exit)
    if (i < 0) return false
    // Shifted in place (splice would allocate the array it returns).
    for (let k = i + 1; k < ids.length; k++) { ids[k - 1] = ids[k] as number; items[k - 1] = items[k] as PendingExit }
    ids.pop()
    items.pop()
    return true
  }

  /** The exit ids, oldest first (a copy: the caller may decide them as it goes). */
  keys (): number[] { return this.ids.slice() }

  /** The pending exits, oldest first (a copy). */
  values (): PendingExit[] { return this.items.slice() }

  /** [exit id, pending exit] pairs, oldest first (a copy). */
  entries (): Array<[number, PendingExit]> { return this.ids.map((id, i) => [id, this.items[i] as PendingExit]) }
}

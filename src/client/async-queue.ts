// A single-consumer async queue: the bridge from push (socket messages) to pull
// (`for await`, through ExitStream.exits()). Bounded: past `limit` the oldest item is dropped and counted, so a consumer
// that never reads cannot grow memory without end.

export class AsyncQueue<T> {
  private readonly items: T[] = []
  private readonly waiters: Array<{ resolve: (r: IteratorResult<T>) => void, reject: (e: unknown) => void }> = []
  private ended = false
  private failure: unknown = undefined
  /** Items dropped because the buffer was full. */
  dropped = 0

  constructor (private readonly limit = Infinity) {}

  get size (): number { return this.items.length }

  push (item: T): void {
    if (this.ended) return
    const waiter = this.waiters.shift()
    if (waiter !== undefined) { waiter.resolve({ value: item, done: false }); return }
    if (this.limit <= 0) { this.dropped++; return }
    if (this.items.length >= this.limit) { this.items.shift(); this.dropped++ }
    this.items.push(item)
  }

  /** No more items: readers drain what is buffered, then finish (or throw `error`). */
  end (error?: unknown): void {
    if (this.ended) return
    this.ended = true
    this.failure = error
    for (const waiter of this.waiters.splice(0)) {
      if (error === undefined) waiter.resolve({ value: undefined, done: true })
      else waiter.reject(error)
    }
  }

  async next (): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return { value: this.items.shift() as T, done: false }
    if (this.ended) {
      if (this.failure !== undefined) throw this.failure
      return { value: undefined, done: true }
    }
    return await new Promise((resolve, reject) => { this.waiters.push({ resolve, reject }) })
  }
}

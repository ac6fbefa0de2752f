// Requests per caller per minute, counted in fixed windows shared by every caller: one Map
// lookup and an increment per request, no promise and no timer. (@fastify/rate-limit's
// async hook, promise-wrapped store and LRU cost more than the rest of a GET.)
/** Callers counted at once; past it, new callers share one count (addresses are unbounded). */
const MAX_CALLERS = 10_000
const OVERFLOW = Symbol('other callers')

export class RateLimiter {
  private readonly counts = new Map<unknown, number>()
  private windowEnd: number

  constructor (readonly max: number, private readonly windowMs = 60_000, private readonly now: () => number = Date.now) {
    this.windowEnd = now() + windowMs
  }

  /**
   * Counts one request of `caller` (any key: a principal, an address). Returns 0 when it is
   * within the limit, else the ms until the window ends and the caller may try again.
   */
  take (caller: unknown): number {
    const t = this.now()
    if (t >= this.windowEnd) {
      this.counts.clear()
      this.windowEnd = t + this.windowMs
    }
    let key = caller
    let n = this.counts.get(key)
    if (n === undefined && this.counts.size >= MAX_CALLERS) {
      key = OVERFLOW
      n = this.counts.get(key)
    }
    n = (n ?? 0) + 1
    this.counts.set(key, n)
    return n > this.max ? Math.max(1, this.windowEnd - t) : 0
  }
}

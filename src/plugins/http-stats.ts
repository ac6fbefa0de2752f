// REST requests counted for /metrics as plain numbers: one Map lookup per method and route
// pattern, an increment per status and a bucket per duration. prom-client's labelled
// inc()/observe() built and hashed a label key on every request; metrics.ts copies these
// into its metrics at scrape time instead.
import type { LatencyHistogram } from '../control/stats.js'

/** Upper bounds (seconds) of the request duration buckets. */
export const HTTP_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export interface RouteStats {
  readonly method: string
  /** The route pattern, or 'unmatched' (the URL itself is unbounded). */
  readonly route: string
  /** Requests answered, by status code. */
  readonly byStatus: Map<number, number>
  readonly duration: LatencyHistogram
}

export class HttpStats {
  private readonly byMethod = new Map<string, Map<string, RouteStats>>()

  /** One request answered with `status` after `seconds`. */
  observe (method: string, route: string, status: number, seconds: number): void {
    let routes = this.byMethod.get(method)
    if (routes === undefined) { routes = new Map(); this.byMethod.set(method, routes) }
    let r = routes.get(route)
    if (r === undefined) {
      r = { method, route, byStatus: new Map(), duration: { counts: new Array<number>(HTTP_DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 } }
      routes.set(route, r)
    }
    r.byStatus.set(status, (r.byStatus.get(status) ?? 0) + 1)
    let b = 0
    while (b < HTTP_DURATION_BUCKETS.length && seconds > (HTTP_DURATION_BUCKETS[b] as number)) b++
    const h = r.duration
    h.counts[b] = (h.counts[b] as number) + 1
    h.sum += seconds
    h.count++
  }

  /** Every method and route seen so far. */
  * routes (): IterableIterator<RouteStats> {
    for (const routes of this.byMethod.values()) yield * routes.values()
  }
}

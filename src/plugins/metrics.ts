// The app's Prometheus registry, as `app.metrics` (routes/metrics.ts serves it). One per app
// instance, nothing global: control/'s and the stream hub's counts are read at scrape time
// in collect() callbacks, so the hot paths only bump plain numbers (src/control/stats.ts).
// Every metric is listed in docs/operations.md.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { EventLoopUtilization } from 'node:perf_hooks'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { MetricObjectWithValues, MetricValueWithName } from 'prom-client'
import type { LatencyHistogram } from '../control/stats.js'
import { CONVERT_DIRECTIONS, DECISION_ACTIONS, DECISION_SOURCES, EXIT_REASONS, LATENCY_BUCKETS } from '../control/stats.js'
import { HTTP_DURATION_BUCKETS, HttpStats } from './http-stats.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus registry (GET /metrics). */
    metrics: Registry
  }
}

const PREFIX = 'faultline_'

type Exported = MetricObjectWithValues<MetricValueWithName<string>>

interface Counted { labels: Record<string, string>, h: LatencyHistogram }

/**
 * A histogram whose buckets are counted elsewhere (ControlStats, HttpStats), exported as
 * prom-client exports its own: cumulative `le` buckets, `_sum` and `_count`, per label set.
 */
class CountedHistogram extends Histogram<string> {
  constructor (registry: Registry, private readonly spec: { name: string, help: string, labelNames: string[], buckets: readonly number[], read: () => Iterable<Counted> }) {
    super({ name: spec.name, help: spec.help, labelNames: spec.labelNames, buckets: [...spec.buckets], registers: [registry] })
  }

  override async get (): Promise<Exported> {
    return this.export()
  }

  /** What the registry calls for the text format (prom-client's types leave it out). */
  async getForPromString (): Promise<Exported> {
    return this.export()
  }

  private export (): Exported {
    const { name, help, buckets } = this.spec
    const values: Array<MetricValueWithName<string>> = []
    for (const { labels, h } of this.spec.read()) {
      let acc = 0
      buckets.forEach((le, b) => {
        acc += h.counts[b] as number
        values.push({ metricName: name + '_bucket', labels: { ...labels, le }, value: acc })
      })
      values.push({ metricName: name + '_bucket', labels: { ...labels, le: '+Inf' }, value: h.count })
      values.push({ metricName: name + '_sum', labels, value: h.sum })
      values.push({ metricName: name + '_count', labels, value: h.count })
    }
    // prom-client's types give `type` as an enum; at run time (and in its own metrics) it is the string.
    return { name, help, type: 'histogram', values, aggregator: 'sum' } as unknown as Exported
  }
}

export default fp(async (app) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: PREFIX })
  const stats = app.control.counters

  /** A counter kept elsewhere as a running total, copied in at each scrape. */
  const total = (name: string, help: string, read: () => number): void => {
    new Counter({ name: PREFIX + name, help, registers: [registry], collect () { this.reset(); this.inc(read()) } })
  }
  /** The same, one label over a fixed set of values, the totals indexed like the values. */
  const totals = (name: string, help: string, label: string, values: readonly string[], read: readonly number[]): void => {
    new Counter({
      name: PREFIX + name,
      help,
      labelNames: [label],
      registers: [registry],
      collect () {
        this.reset()
        values.forEach((value, i) => { this.inc({ [label]: value }, read[i] as number) })
      }
    })
  }

  totals('exits_total', 'vCPU exits by KVM exit reason', 'reason', EXIT_REASONS, stats.exits)
  new Counter({
    name: PREFIX + 'decisions_total',
    help: 'Decisions applied to exits, by action and by who decided (controller, rest, rule, timeout)',
    labelNames: ['action', 'source'],
    registers: [registry],
    collect () {
      this.reset()
      DECISION_ACTIONS.forEach((action, a) => {
        DECISION_SOURCES.forEach((source, s) => { this.inc({ action, source }, stats.decisions[a]?.[s] as number) })
      })
    }
  })
  new CountedHistogram(registry, {
    name: PREFIX + 'decision_latency_seconds',
    help: 'Time from an exit published to its decision applied, by who decided it',
    labelNames: ['source'],
    buckets: LATENCY_BUCKETS,
    read: () => DECISION_SOURCES.map((source, i) => ({ labels: { source }, h: stats.latency[i] as LatencyHistogram }))
  })
  totals('conversions_total', 'Convert decisions applied (memory faults and KVM_HC_MAP_GPA_RANGE), by direction', 'direction', CONVERT_DIRECTIONS, stats.conversions)
  totals('converted_bytes_total', 'Guest memory converted by convert decisions, by direction', 'direction', CONVERT_DIRECTIONS, stats.convertedBytes)
  new Gauge({
    name: PREFIX + 'vms',
    help: 'VMs by state and type',
    labelNames: ['state', 'type'],
    registers: [registry],
    collect () {
      for (const [state, byType] of Object.entries(app.control.stats().vms)) {
        for (const [type, n] of Object.entries(byType)) this.set({ state, type }, n)
      }
    }
  })
  new Gauge({
    name: PREFIX + 'pending_exits',
    help: 'Exits waiting for a decision',
    registers: [registry],
    collect () { this.set(app.control.stats().pending) }
  })

  // The durable store (docs/storage.md): each group commit's duration, bytes and rows.
  if (app.control.durableStore) {
    const commitSeconds = new Histogram({ name: PREFIX + 'store_commit_duration_seconds', help: 'Time of one store commit (one event-loop turn of changes)', buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1], registers: [registry] })
    const commitBytes = new Counter({ name: PREFIX + 'store_commit_bytes_total', help: 'Bytes of checkpoints and log entries committed to the store', registers: [registry] })
    const commitRows = new Counter({ name: PREFIX + 'store_commit_rows_total', help: 'Rows written or deleted by store commits', registers: [registry] })
    app.control.observeCommits((o) => { commitSeconds.observe(o.seconds); commitBytes.inc(o.bytes); commitRows.inc(o.rows) })
  }

  const hub = (): ReturnType<typeof app.streamHub.stats> => app.streamHub.stats()
  new Gauge({ name: PREFIX + 'stream_sockets', help: 'Open /v1/stream sockets', registers: [registry], collect () { this.set(hub().sockets) } })
  new Gauge({ name: PREFIX + 'stream_subscriptions', help: 'Subscriptions held by stream sockets (VM ids and "*")', registers: [registry], collect () { this.set(hub().subscriptions) } })
  new Gauge({ name: PREFIX + 'stream_controllers', help: 'VMs with a controller on the stream', registers: [registry], collect () { this.set(hub().controllers) } })
  total('stream_slow_closed_total', 'Stream sockets closed with 1013 because they fell too far behind', () => hub().slowClosed)
  total('stream_dead_terminated_total', 'Stream sockets terminated because they stopped answering pings', () => hub().deadTerminated)
  total('requests_shed_total', 'Requests shed with 503 while the event loop lagged', () => app.shedding.requests)
  total('connections_dropped_total', 'Connections closed at accept: FAULTLINE_MAX_CONNECTIONS were open', () => app.connections.dropped)

  // The event loop since the previous scrape: lag percentiles and the share of time busy.
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  let elu: EventLoopUtilization = performance.eventLoopUtilization()
  new Gauge({
    name: PREFIX + 'event_loop_lag_p99_seconds',
    help: 'Event-loop delay, 99th percentile since the previous scrape',
    registers: [registry],
    collect () { this.set(delay.count === 0 ? 0 : delay.percentile(99) / 1e9) }
  })
  new Gauge({
    name: PREFIX + 'event_loop_lag_max_seconds',
    help: 'Event-loop delay, largest since the previous scrape',
    registers: [registry],
    collect () {
      this.set(delay.count === 0 ? 0 : delay.max / 1e9)
      // The p99 gauge is collected first (registration order): both see the same window.
      delay.reset()
    }
  })
  new Gauge({
    name: PREFIX + 'event_loop_utilization',
    help: 'Share of time the event loop was busy since the previous scrape (0 to 1)',
    registers: [registry],
    collect () {
      const now = performance.eventLoopUtilization()
      this.set(performance.eventLoopUtilization(now, elu).utilization)
      elu = now
    }
  })

  // REST requests by route pattern (never the URL: label values stay bounded) and status,
  // counted as plain numbers per request and copied in here at scrape time.
  const http = new HttpStats()
  new Counter({
    name: PREFIX + 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
    collect () {
      this.reset()
      for (const r of http.routes()) {
        for (const [status, n] of r.byStatus) this.inc({ method: r.method, route: r.route, status_code: String(status) }, n)
      }
    }
  })
  new CountedHistogram(registry, {
    name: PREFIX + 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route pattern',
    labelNames: ['method', 'route'],
    buckets: HTTP_DURATION_BUCKETS,
    read: function * () { for (const r of http.routes()) yield { labels: { method: r.method, route: r.route }, h: r.duration } }
  })
  app.addHook('onResponse', (req, reply, done) => {
    http.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  app.decorate('metrics', registry)
  app.addHook('onClose', async () => { delay.disable() })
}, { name: 'faultline-metrics', fastify: '5.x', dependencies: ['faultline-control', 'faultline-stream-hub', 'faultline-protection', 'faultline-connections'] })

// /metrics: a small Prometheus registry (VMs by state, pending exits, the stream's sockets,
// process defaults). The counts span every tenant, so it needs an admin or a metrics token
// (the auth hook checks `config.metrics`). The full metrics set is a later issue.
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { Type } from 'typebox'
import { ErrorBody } from '../schemas/common.js'

export default async function metricsRoutes (app: FastifyInstance): Promise<void> {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'faultline_' })
  const vms = new Gauge({ name: 'faultline_vms', help: 'VMs by state', labelNames: ['state'], registers: [registry] })
  const pending = new Gauge({ name: 'faultline_pending_exits', help: 'Exits waiting for a decision', registers: [registry] })
  const sockets = new Gauge({ name: 'faultline_stream_sockets', help: 'Open /v1/stream sockets', registers: [registry] })
  const subscriptions = new Gauge({ name: 'faultline_stream_subscriptions', help: 'Subscriptions held by stream sockets (VMs and "*")', registers: [registry] })
  const controllers = new Gauge({ name: 'faultline_stream_controllers', help: 'VMs with a controller on the stream', registers: [registry] })
  // Counted by the plugins that shed (protection, connections); read at each scrape.
  const since = (name: string, help: string, read: () => number): void => {
    // Registered on the registry and read through it at each scrape.
    new Counter({ name, help, registers: [registry], collect () { this.reset(); this.inc(read()) } })
  }
  since('faultline_requests_shed_total', 'Requests shed with 503 while the event loop lagged', () => app.shedding.requests)
  since('faultline_connections_dropped_total', 'Connections closed at accept: FAULTLINE_MAX_CONNECTIONS were open', () => app.connections.dropped)

  app.get('/metrics', {
    config: { metrics: true },
    schema: {
      operationId: 'getMetrics',
      tags: ['operations'],
      summary: 'Prometheus metrics',
      response: {
        200: { description: 'The Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } },
        401: ErrorBody,
        403: ErrorBody,
        429: ErrorBody,
        503: ErrorBody
      }
    }
  }, async (_req, reply) => {
    const s = app.control.stats()
    for (const [state, n] of Object.entries(s.vms)) vms.set({ state }, n)
    pending.set(s.pending)
    const st = app.streamHub.stats()
    sockets.set(st.sockets)
    subscriptions.set(st.subscriptions)
    controllers.set(st.controllers)
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}

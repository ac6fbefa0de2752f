// /metrics: a small Prometheus registry (VMs by state, pending exits, process defaults).
// Needs a token like every /v1 route. The full metrics set is a later issue.
import type { FastifyInstance } from 'fastify'
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client'

export default async function metricsRoutes (app: FastifyInstance): Promise<void> {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'faultline_' })
  const vms = new Gauge({ name: 'faultline_vms', help: 'VMs by state', labelNames: ['state'], registers: [registry] })
  const pending = new Gauge({ name: 'faultline_pending_exits', help: 'Exits waiting for a decision', registers: [registry] })

  app.get('/metrics', {
    schema: { tags: ['operations'], summary: 'Prometheus metrics' }
  }, async (_req, reply) => {
    const s = app.control.stats()
    for (const [state, n] of Object.entries(s.vms)) vms.set({ state }, n)
    pending.set(s.pending)
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}

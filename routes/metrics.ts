// /metrics: the app's Prometheus registry (src/plugins/metrics.ts; every metric is listed in
// docs/operations.md). The counts span every tenant, so it needs an admin or a metrics token
// (the auth hook checks `config.metrics`).
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { ErrorBody } from '../schemas/common.js'

export default async function metricsRoutes (app: FastifyInstance): Promise<void> {
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
    return reply.type(app.metrics.contentType).send(await app.metrics.metrics())
  })
}

// Operations: alive, ready, and the OpenAPI document. All public.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { FaultlineError } from '../src/errors.js'
import { ErrorBody } from '../schemas/common.js'

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false })

export async function healthRoutes (app: FastifyInstance): Promise<void> {
  app.get('/healthz', {
    config: { public: true, rateLimit: false },
    schema: { tags: ['operations'], summary: 'The process is alive', security: [], response: { 200: Status } }
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    config: { public: true, rateLimit: false },
    schema: { tags: ['operations'], summary: 'Ready to serve (503 while starting or closing)', security: [], response: { 200: Status, 503: ErrorBody } }
  }, async () => {
    const phase = app.readiness.phase
    if (phase !== 'ready') throw new FaultlineError('NOT_READY', `the server is ${phase}`)
    return { status: 'ready' }
  })

  app.get('/openapi.json', {
    config: { public: true },
    schema: { tags: ['operations'], summary: 'This API\'s OpenAPI document', security: [] }
  }, async () => app.swagger())
}

// Operations: alive, ready, and the OpenAPI and AsyncAPI documents. All public.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { FaultlineError } from '../src/errors.js'
import { ErrorBody } from '../schemas/common.js'
import { asyncapiDocument } from '../src/asyncapi.js'

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false })

export async function healthRoutes (app: FastifyInstance): Promise<void> {
  // The probes take no input and are not rate limited: no 4xx (redocly.yaml says why).
  app.get('/healthz', {
    config: { public: true, rateLimit: false },
    schema: { operationId: 'getHealth', tags: ['operations'], summary: 'The process is alive (503 when overloaded)', security: [], response: { 200: Status, 503: ErrorBody } }
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    config: { public: true, rateLimit: false },
    schema: { operationId: 'getReadiness', tags: ['operations'], summary: 'Ready to serve (503 while starting or closing)', security: [], response: { 200: Status, 503: ErrorBody } }
  }, async () => {
    const phase = app.readiness.phase
    if (phase !== 'ready') throw new FaultlineError('NOT_READY', `the server is ${phase}`)
    return { status: 'ready' }
  })

  app.get('/openapi.json', {
    config: { public: true },
    schema: {
      operationId: 'getOpenApi',
      tags: ['operations'],
      summary: 'This API\'s OpenAPI 3.1 document',
      security: [],
      response: {
        200: Type.Object({ openapi: Type.Literal('3.1.0') }, { additionalProperties: true, description: 'An OpenAPI 3.1 document' }),
        429: ErrorBody,
        503: ErrorBody
      }
    }
  }, async () => app.swagger())

  // Built once: it depends only on the version.
  const asyncapi = asyncapiDocument(app.faultline.version)
  app.get('/asyncapi.json', {
    config: { public: true },
    schema: {
      operationId: 'getAsyncApi',
      tags: ['operations'],
      summary: 'The stream protocol (GET /v1/stream) as an AsyncAPI 3.0 document',
      security: [],
      response: {
        200: Type.Object({ asyncapi: Type.Literal('3.0.0') }, { additionalProperties: true, description: 'An AsyncAPI 3.0 document' }),
        429: ErrorBody,
        503: ErrorBody
      }
    }
  }, async () => asyncapi)
}

// The OpenAPI document's frame: info, the server, Bearer security, and the shared Error
// schema (the REST routes add themselves from their schemas). The stream's messages are
// in the AsyncAPI document (src/asyncapi.ts, GET /asyncapi.json).
import { STATUS_CODES } from 'node:http'
import type { SwaggerOptions } from '@fastify/swagger'
import { ErrorBody } from '../schemas/common.js'

type Json = Record<string, unknown>
const ERROR_REF = '#/components/schemas/Error'

/**
 * Routes validate with ErrorBody itself, so the generator inlines it in every error
 * response; naming it once gives generated clients one Error type instead of dozens.
 * Responses left with the generator's "Default Response" get their HTTP reason phrase.
 */
function nameSharedSchemas (doc: Json): Json {
  const components = doc.components as { schemas: Record<string, unknown> }
  const errorText = JSON.stringify(components.schemas.Error)
  for (const item of Object.values(doc.paths as Record<string, Record<string, Json>>)) {
    for (const op of Object.values(item)) {
      for (const [code, res] of Object.entries(op.responses as Record<string, Json>)) {
        if (res.description === 'Default Response') res.description = STATUS_CODES[code] ?? res.description
        const media = (res.content as Record<string, Json> | undefined)?.['application/json']
        if (media !== undefined && JSON.stringify(media.schema) === errorText) media.schema = { $ref: ERROR_REF }
      }
    }
  }
  return doc
}

export function openapiOptions (version: string): SwaggerOptions {
  const { $id: _id, ...errorSchema } = ErrorBody as typeof ErrorBody & { $id?: string }
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'faultline',
        version,
        description: 'Simulated confidential-VM vCPUs whose exits are decided by remote clients. ' +
          'The WebSocket stream is GET /v1/stream; its messages are described by the AsyncAPI document at /asyncapi.json.',
        license: { name: 'MIT', identifier: 'MIT' }
      },
      // Relative: the server that serves this document, wherever it listens.
      servers: [{ url: '/', description: 'The faultline server that serves this document' }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        schemas: { Error: errorSchema as Record<string, unknown> }
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'vms', description: 'VMs and their lifecycle' },
        { name: 'memory', description: 'Memory attributes, backing and poison' },
        { name: 'vcpus', description: 'vCPUs' },
        { name: 'exits', description: 'The exit journal and decisions over REST' },
        { name: 'presets', description: 'Built-in guest programs' },
        { name: 'stream', description: 'The WebSocket exit stream (its messages: /asyncapi.json)' },
        { name: 'traces', description: 'Exit traces: record a run, replay it (docs/traces.md)' },
        { name: 'operations', description: 'Health, readiness, metrics, the API documents' }
      ]
    },
    // @fastify/websocket hides its routes; the stream's upgrade is an operation clients call.
    transform: ({ schema, url, route }) => ({
      schema: route.websocket === true ? { ...schema, hide: false } : schema,
      url
    }),
    // Always an OpenAPI 3 document here (the `openapi` option above), never Swagger 2.
    transformObject: (doc) => nameSharedSchemas((doc as { openapiObject: Json }).openapiObject)
  }
}

// The OpenAPI document's frame: info, Bearer security, and the stream's messages as
// components (the REST routes add themselves from their schemas).
import type { SwaggerOptions } from '@fastify/swagger'
import { ErrorBody } from '../schemas/common.js'
import { STREAM_COMPONENTS } from '../schemas/stream.js'

export function openapiOptions (version: string): SwaggerOptions {
  const { $id: _id, ...errorSchema } = ErrorBody as typeof ErrorBody & { $id?: string }
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'faultline',
        version,
        description: 'Simulated confidential-VM vCPUs whose exits are decided by remote clients. ' +
          'The WebSocket stream is GET /v1/stream; its messages are the *Message components.'
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        schemas: { Error: errorSchema, ...STREAM_COMPONENTS } as Record<string, object>
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'vms', description: 'VMs and their lifecycle' },
        { name: 'memory', description: 'Memory attributes, backing and poison' },
        { name: 'vcpus', description: 'vCPUs' },
        { name: 'exits', description: 'The exit journal and decisions over REST' },
        { name: 'presets', description: 'Built-in guest programs' },
        { name: 'operations', description: 'Health, readiness, metrics, this document' }
      ]
    }
  }
}

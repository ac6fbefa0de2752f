// Turns anything a route throws into the contract's error body: {statusCode, code, error,
// message} plus errno/path. Fastify's own errors (validation, body size, bad JSON) become
// FAULTLINE_* codes too, so a client only ever sees one family.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  BadJson, Internal, PayloadTooLarge, RouteNotFound, UnsupportedMediaType, Validation, fromKvmError, isFaultlineError
} from './errors.js'
import type { FaultlineError } from './errors.js'
import { KvmError } from './kvm/types.js'

export function toFaultlineError (err: unknown): FaultlineError {
  if (isFaultlineError(err)) return err
  if (err instanceof KvmError) return fromKvmError(err)
  const e = err as FastifyError
  if (e.validation !== undefined) return new Validation(e.message) as FaultlineError
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new PayloadTooLarge(e.message) as FaultlineError
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new UnsupportedMediaType(e.message) as FaultlineError
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return new BadJson(e.message) as FaultlineError
  }
  if (e instanceof SyntaxError) return new BadJson(e.message) as FaultlineError
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Another 4xx from Fastify or a plugin: keep its status, give it a faultline code.
    const v = new Validation(e.message) as FaultlineError
    v.statusCode = e.statusCode
    return v
  }
  return new Internal('') as FaultlineError
}

export function errorBody (e: FaultlineError): Record<string, unknown> {
  const body: Record<string, unknown> = {
    statusCode: e.statusCode,
    code: e.code,
    error: STATUS_CODES[e.statusCode] ?? 'Error',
    message: e.message
  }
  if (e.errno !== undefined) body.errno = e.errno
  if (e.path !== undefined) body.path = e.path
  return body
}

export async function errorHandler (err: unknown, req: FastifyRequest, reply: FastifyReply): Promise<Record<string, unknown>> {
  const e = toFaultlineError(err)
  if (e.statusCode >= 500) req.log.error({ err }, 'request failed')
  // 429 and 503 carry their own headers (retry-after, rate-limit state): keep them.
  return reply.code(e.statusCode).type('application/json; charset=utf-8').send(errorBody(e)) as unknown as Record<string, unknown>
}

export async function notFoundHandler (req: FastifyRequest, reply: FastifyReply): Promise<void> {
  await reply.code(404).send(errorBody(new RouteNotFound(`${req.method} ${req.url.split('?')[0] ?? ''}`) as FaultlineError))
}

// Turns anything a route throws into the contract's error body: {statusCode, code, error,
// message} plus errno/path. The status comes from the error table; Fastify's own errors
// (validation, body size, bad JSON, a malformed URL) get table codes too, so a client only
// ever sees one family.
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { statusOf } from '../schemas/errors.js'
import type { ErrorCode } from '../schemas/errors.js'
import { REST_CODE_PREFIX } from '../schemas/protocol.js'
import { FaultlineError, asFaultlineError } from './errors.js'
import { KvmError } from './kvm/index.js'

/** Fastify's and its plugins' errors by their code or status, as table codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_JSON'
}
const BY_STATUS: Record<number, ErrorCode> = { 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 429: 'RATE_LIMITED', 431: 'HEADERS_TOO_LARGE' }

export function toFaultlineError (err: unknown): FaultlineError {
  if (err instanceof FaultlineError || err instanceof KvmError) return asFaultlineError(err)
  const e = err as FastifyError
  if (e.validation !== undefined) return new FaultlineError('VALIDATION', e.message)
  const known = FASTIFY_CODES[e.code]
  if (known !== undefined) return new FaultlineError(known, known === 'BAD_JSON' ? `the body is not valid JSON: ${e.message}` : e.message)
  if (e instanceof SyntaxError) return new FaultlineError('BAD_JSON', `the body is not valid JSON: ${e.message}`)
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new FaultlineError(BY_STATUS[e.statusCode] ?? 'BAD_REQUEST', e.message)
  }
  return asFaultlineError(err)
}

export function errorBody (e: FaultlineError): { statusCode: number, code: string, error: string, message: string, errno?: string, path?: string } {
  const statusCode = statusOf(e.code)
  const body: ReturnType<typeof errorBody> = {
    statusCode,
    code: REST_CODE_PREFIX + e.code,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: e.message
  }
  if (e.errno !== undefined) body.errno = e.errno
  if (e.path !== undefined) body.path = e.path
  return body
}

export async function errorHandler (err: unknown, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const e = toFaultlineError(err)
  const body = errorBody(e)
  if (body.statusCode >= 500 && e.code !== 'OVERLOADED') req.log.error({ err }, 'request failed')
  // 429 and 503 carry their own headers (retry-after, rate-limit state): keep them.
  return await reply.code(body.statusCode).type('application/json; charset=utf-8').send(body)
}

/**
 * What Node's HTTP parser refuses before Fastify sees a request (headers over the limit, no
 * complete request in time, bytes that are not HTTP), answered with the contract's body and
 * code, then the connection is closed: the parser cannot go on after it.
 */
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset peer is gone: nothing to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const e = err.code === 'HPE_HEADER_OVERFLOW'
    ? new FaultlineError('HEADERS_TOO_LARGE', 'the request\'s headers are over the server\'s limit')
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new FaultlineError('REQUEST_TIMEOUT', 'no complete request in time: the connection is closed')
      : new FaultlineError('BAD_REQUEST', 'the request is not valid HTTP/1.1')
  const body = JSON.stringify(errorBody(e))
  const status = statusOf(e.code)
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  // Closed once the answer is flushed, whether or not the peer closes its side.
  ;(socket as Duplex & { destroySoon?: () => void }).destroySoon?.()
}

/** Fastify's own refusals before routing (a malformed URL): the same body as every error. */
export function frameworkErrorHandler (err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const body = errorBody(toFaultlineError(err))
  void reply.code(body.statusCode).type('application/json; charset=utf-8').send(body)
}

export async function notFoundHandler (req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = errorBody(new FaultlineError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`))
  await reply.code(404).send(body)
}

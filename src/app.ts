// Builds the Fastify app: plugins (each named), the auth hook, errors, OpenAPI, and every
// route from routes/. server.ts starts it; tests build it and use app.inject.
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import websocket from '@fastify/websocket'
import type { LoggerOptions } from 'pino'
import type { Auth } from './auth/index.js'
import { authHook } from './auth/hook.js'
import type { Control } from './control/index.js'
import { selectProtocol } from './stream/protocol.js'
import type { AppSettings } from './app-types.js'
import { errorHandler, notFoundHandler } from './error-handler.js'
import { Overloaded, RateLimited } from './errors.js'
import { schemaErrorFormatter, validatorCompiler } from './validation.js'
import { openapiOptions } from './openapi.js'
import { healthRoutes, readiness } from '../routes/health.js'
import vmRoutes from '../routes/vms.js'
import memoryRoutes from '../routes/memory.js'
import vcpuRoutes from '../routes/vcpus.js'
import exitRoutes from '../routes/exits.js'
import presetRoutes from '../routes/presets.js'
import metricsRoutes from '../routes/metrics.js'
import streamRoutes, { streamHub } from '../routes/stream.js'
import './app-types.js'

export interface BuildOptions {
  control: Control
  auth: Auth
  settings: AppSettings
  /** A pino logger (server.ts), or none: tests run quiet. */
  loggerInstance?: FastifyBaseLogger
}

const require = createRequire(import.meta.url)

/** pino options: request ids on every line, tokens never logged, pretty only on a TTY. */
export function loggerOptions (level: string): LoggerOptions {
  const opts: LoggerOptions = {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'headers.authorization'], censor: '[redacted]' }
  }
  if (process.stdout.isTTY) {
    // pino-pretty is optional: used when a developer has it, never required.
    try { require.resolve('pino-pretty'); opts.transport = { target: 'pino-pretty' } } catch { /* plain JSON */ }
  }
  return opts
}

export async function buildApp (opts: BuildOptions): Promise<FastifyInstance> {
  const s = opts.settings
  const app = Fastify({
    ...(opts.loggerInstance !== undefined ? { loggerInstance: opts.loggerInstance } : { logger: false }),
    bodyLimit: s.bodyLimit,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      // Accept a caller's id when it is short and plain, so logs join across services.
      return typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID()
    },
    schemaErrorFormatter,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    routerOptions: { ignoreTrailingSlash: true }
  })
  // JSON only: a text/plain body is 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(validatorCompiler)
  // Response schemas document the API; control/ already builds exactly those shapes, so
  // JSON.stringify (a few µs) serializes them rather than a schema walk with anyOf branches.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)

  app.decorate('control', opts.control)
  app.decorate('auth', opts.auth)
  app.decorate('faultline', s)
  app.decorateRequest('principal', null)
  app.addHook('onRequest', (req, reply, done) => { void reply.header('x-request-id', req.id); done() })
  // Root preClose hooks run in the order added, so this one runs before @fastify/websocket's
  // (added when it registers, below), which would close stream sockets with no code (1005):
  // the stream closes its own first, with 1001 (going away), flushing what they have queued.
  app.addHook('preClose', async () => { streamHub(opts.control)?.close() })
  // Before the auth hook and every plugin that may refuse a request (rate limit, under
  // pressure): @fastify/websocket's onRequest hook marks an upgrade so that its onResponse
  // hook destroys the socket of a refused one (401, 429, 503). A hook that throws before it
  // leaves that socket paused and open, and app.close() waits on it for ever.
  await app.register(websocket, {
    options: {
      // The stream (routes/stream.ts) reads its frame limit from app.faultline.wsMaxPayload.
      maxPayload: s.wsMaxPayload,
      // Always faultline.v1, never `bearer.<token>` (ws would echo the first offer).
      handleProtocols: selectProtocol
    }
  })
  app.addHook('onRequest', authHook(opts.auth))
  readiness(app)

  await app.register(swagger, openapiOptions(s.version))
  await app.register(swaggerUi, { routePrefix: '/docs' })

  if (s.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: s.maxEventLoopDelayMs,
      customError: Overloaded as unknown as Error & (new () => Error),
      retryAfter: 5
    } as Parameters<typeof underPressure>[1])
  }
  if (s.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: s.rateLimitPerMinute,
      timeWindow: 60_000,
      // Per token, not per address: many clients share one NAT, one client many addresses.
      keyGenerator: (req) => req.principal !== null ? 'p:' + req.principal.id : 'ip:' + req.ip,
      errorResponseBuilder: (_req, ctx) => new RateLimited(`${ctx.max} per minute for this token, retry in ${ctx.after}`),
      // The x-ratelimit-* headers go on 429s only: three headers per request is measurable cost.
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false }
    })
  }

  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(presetRoutes, { prefix: '/v1' })
  await app.register(vmRoutes, { prefix: '/v1' })
  await app.register(memoryRoutes, { prefix: '/v1' })
  await app.register(vcpuRoutes, { prefix: '/v1' })
  await app.register(exitRoutes, { prefix: '/v1' })
  // STREAM: routes/stream.ts registers here (`await app.register(streamRoutes, { prefix: '/v1' })`);
  // request.principal is already set by the auth hook (header or bearer.<token> subprotocol).
  await app.register(streamRoutes, { prefix: '/v1' })
  await app.register(import('../routes/dashboard.js'))

  app.addHook('onClose', async () => { opts.control.close() })
  return app
}

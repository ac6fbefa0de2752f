// The faultline app as one Fastify plugin: infrastructure first (each a named plugin that
// decorates the instance), then every route from routes/. buildApp() makes a Fastify
// instance with the server options the app needs and registers it; server.ts listens.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import websocket from '@fastify/websocket'
import type { Auth } from './auth/index.js'
import type { Control } from './control/index.js'
import { selectProtocol } from './stream/protocol.js'
import { clientErrorHandler, frameworkErrorHandler } from './error-handler.js'
import { INTEGER_VARS } from './config.js'
import type { AppSettings } from './app-types.js'
import { openapiOptions } from './openapi.js'
import authPlugin from './plugins/auth.js'
import connectionsPlugin from './plugins/connections.js'
import controlPlugin from './plugins/control.js'
import errorsPlugin from './plugins/errors.js'
import jsonBodyPlugin from './plugins/json-body.js'
import metricsPlugin from './plugins/metrics.js'
import protectionPlugin from './plugins/protection.js'
import readinessPlugin from './plugins/readiness.js'
import settingsPlugin from './plugins/settings.js'
import streamHubPlugin from './plugins/stream-hub.js'
import { healthRoutes } from '../routes/health.js'
import vmRoutes from '../routes/vms.js'
import memoryRoutes from '../routes/memory.js'
import vcpuRoutes from '../routes/vcpus.js'
import exitRoutes from '../routes/exits.js'
import presetRoutes from '../routes/presets.js'
import metricsRoutes from '../routes/metrics.js'
import streamRoutes from '../routes/stream.js'
import dashboardRoutes from '../routes/dashboard.js'
import traceRoutes from '../routes/traces.js'
import './app-types.js'

export interface AppOptions {
  control: Control
  auth: Auth
  settings: AppSettings
}

export interface BuildOptions extends AppOptions {
  /** A pino logger (server.ts), or none: tests run quiet. */
  loggerInstance?: FastifyBaseLogger
  /** Plugins registered before the app, so their onRoute hooks see every route (the tests' contract checks). */
  before?: FastifyPluginAsync[]
}

const faultline: FastifyPluginAsync<AppOptions> = async (app, opts) => {
  await app.register(settingsPlugin, { settings: opts.settings })
  await app.register(connectionsPlugin)
  await app.register(errorsPlugin)
  await app.register(jsonBodyPlugin)
  await app.register(controlPlugin, { control: opts.control })
  app.addHook('onRequest', (req, reply, done) => { void reply.header('x-request-id', req.id); done() })
  await app.register(streamHubPlugin)
  // Before the auth hook and every plugin that may refuse a request (rate limit, under
  // pressure): @fastify/websocket's onRequest hook marks an upgrade so that its onResponse
  // hook destroys the socket of a refused one (401, 429, 503). A hook that throws before it
  // leaves that socket paused and open, and app.close() waits on it for ever.
  await app.register(websocket, {
    options: {
      maxPayload: opts.settings.wsMaxPayload,
      // Always faultline.v1, never `bearer.<token>` (ws would echo the first offer).
      handleProtocols: selectProtocol
    }
  })
  await app.register(authPlugin, { auth: opts.auth })
  await app.register(readinessPlugin)
  await app.register(swagger, openapiOptions(opts.settings.version))
  await app.register(swaggerUi, { routePrefix: '/docs' })
  await app.register(protectionPlugin)
  await app.register(metricsPlugin)

  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(presetRoutes, { prefix: '/v1' })
  await app.register(vmRoutes, { prefix: '/v1' })
  await app.register(memoryRoutes, { prefix: '/v1' })
  await app.register(vcpuRoutes, { prefix: '/v1' })
  await app.register(exitRoutes, { prefix: '/v1' })
  await app.register(streamRoutes, { prefix: '/v1' })
  await app.register(traceRoutes, { prefix: '/v1' })
  await app.register(dashboardRoutes)
}

/** The app as a plugin: its decorators (control, auth, streamHub...) reach the instance it is registered on. */
export default fp(faultline, { name: 'faultline', fastify: '5.x' })

/** A Fastify instance with the server options faultline needs, and the app registered on it. */
export async function buildApp (opts: BuildOptions): Promise<FastifyInstance> {
  const idle = opts.settings.idleTimeoutMs ?? INTEGER_VARS.FAULTLINE_IDLE_TIMEOUT_MS.def
  const app = Fastify({
    ...(opts.loggerInstance !== undefined ? { loggerInstance: opts.loggerInstance } : { logger: false }),
    bodyLimit: opts.settings.bodyLimit,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      // Accept a caller's id when it is short and plain, so logs join across services.
      return typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID()
    },
    routerOptions: { ignoreTrailingSlash: true },
    // A connection that sends no complete request within `idle` (of connecting, or of the
    // previous response) is answered 408 and closed: idle sockets cannot pile up. Node
    // checks every connectionsCheckingInterval; an upgraded stream socket is no longer the
    // parser's and keeps its own heartbeat.
    requestTimeout: idle,
    keepAliveTimeout: idle,
    http: { headersTimeout: idle, requestTimeout: idle, connectionsCheckingInterval: Math.min(1000, Math.ceil(idle / 2)) },
    // What Node's parser and Fastify's router refuse gets the contract's body and code too.
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler
  })
  // JSON only: a text/plain body is 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain')
  for (const p of opts.before ?? []) await app.register(p)
  await app.register(faultline, { control: opts.control, auth: opts.auth, settings: opts.settings })
  return app
}

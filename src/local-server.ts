// A faultline server on this machine for the demo, the benchmarks and the tests: the
// defaults every variable has in config.ts, a token made for the run, and optionally a
// listening socket on 127.0.0.1. One place builds it, so none of them drifts from npm start.
import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify'
import { buildApp } from './app.js'
import type { AppSettings } from './app-types.js'
import { createAuth } from './auth/index.js'
import { DEFAULT_TENANT } from './auth/tokens.js'
import type { TokenEntry } from './auth/tokens.js'
import { loadConfig } from './config.js'
import { Control } from './control/index.js'
import type { Clock, Limits } from './control/index.js'
import type { Store } from './store/store.js'
import { VERSION } from './version.js'

export interface LocalServerOptions {
  /** The tokens it accepts (default: one admin token made for this server). */
  tokens?: TokenEntry[]
  limits?: Partial<Limits>
  clock?: Clock
  /** Settings over the defaults (rate limit, shedding, stream options...). */
  settings?: Partial<AppSettings>
  /** Use this Control instead of a fresh one (limits, clock and store are then its own). */
  control?: Control
  /** Keep VMs in this store (recovering what it holds); none by default. */
  store?: Store
  loggerInstance?: FastifyBaseLogger
  /** Plugins registered before the app (see buildApp). */
  before?: FastifyPluginAsync[]
  /** Listen on 127.0.0.1 with a free port (default true); false for app.inject only. */
  listen?: boolean
}

export interface LocalServer {
  app: FastifyInstance
  control: Control
  /** http://127.0.0.1:port, or '' when not listening. */
  url: string
  /** The first token it accepts (the made one, by default). */
  token: string
  close: () => Promise<void>
}

export async function localServer (opts: LocalServerOptions = {}): Promise<LocalServer> {
  // The defaults of every variable: an empty environment.
  const defaults = loadConfig({})
  const control = opts.control ?? new Control({
    limits: { ...defaults.limits, ...opts.limits },
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
    ...(opts.store !== undefined ? { store: opts.store } : {})
  })
  const tokens = opts.tokens ?? [{ token: 'local-' + randomBytes(18).toString('base64url'), tenant: DEFAULT_TENANT, role: 'admin' }]
  const settings: AppSettings = {
    bodyLimit: defaults.bodyLimit,
    wsMaxPayload: defaults.wsMaxPayload,
    rateLimitPerMinute: defaults.rateLimitPerMinute,
    maxEventLoopDelayMs: defaults.maxEventLoopDelayMs,
    stream: defaults.stream,
    version: VERSION,
    ...opts.settings,
    limits: control.limits
  }
  const app = await buildApp({
    control,
    auth: createAuth(tokens),
    settings,
    ...(opts.loggerInstance !== undefined ? { loggerInstance: opts.loggerInstance } : {}),
    ...(opts.before !== undefined ? { before: opts.before } : {})
  })
  let url = ''
  if (opts.listen !== false) {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const addr = app.server.address()
    if (addr === null || typeof addr === 'string') throw new Error('not listening on TCP')
    url = `http://127.0.0.1:${addr.port}`
  } else {
    await app.ready()
  }
  return { app, control, url, token: tokens[0]?.token ?? '', close: async () => { await app.close() } }
}

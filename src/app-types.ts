// What buildApp adds to Fastify's types: the decorators routes (and routes/stream.ts) use.
import type { Auth } from './auth/index.js'
import type { Principal } from './auth/types.js'
import type { Control } from './control/index.js'
import type { Config } from './config.js'
import type { StreamOptions } from './stream/options.js'
import type { StreamHub } from './stream/hub.js'
import type { ConnectionStats } from './plugins/connections.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The single owner of every VM. */
    control: Control
    auth: Auth
    /** Limits and settings the app was built with. */
    faultline: AppSettings
    /** Every stream socket: sessions, controllers, counts. */
    streamHub: StreamHub
    /** Requests shed with 503 OVERLOADED since start (src/plugins/protection.ts). */
    shedding: { requests: number }
    /** Connections shed at accept since start (src/plugins/connections.ts). */
    connections: ConnectionStats
    /** Whether the event loop lags past FAULTLINE_MAX_EVENT_LOOP_DELAY_MS (requests are shed). */
    isUnderPressure: () => boolean
    /** 503 from /readyz unless ready. */
    readiness: { phase: 'starting' | 'ready' | 'closing' }
  }
  interface FastifyRequest {
    /** Set by the auth hook on every authenticated route; null on public ones. */
    principal: Principal | null
  }
  interface FastifyContextConfig {
    /** Public routes skip the Bearer check. */
    public?: boolean
    /** GET /metrics: admin and metrics tokens only, and the one route a metrics token may use. */
    metrics?: boolean
    /** false: never rate limited (the health probes). */
    rateLimit?: false
  }
}

export type AppSettings = Pick<Config, 'bodyLimit' | 'wsMaxPayload' | 'rateLimitPerMinute' | 'maxEventLoopDelayMs' | 'limits'> &
Partial<Pick<Config, 'maxConnections' | 'idleTimeoutMs' | 'traceMaxBytes'>> & {
  version: string
  /** The stream's limits and timers (src/stream/options.ts); unset ones keep their defaults. */
  stream?: Partial<Omit<StreamOptions, 'version'>>
}

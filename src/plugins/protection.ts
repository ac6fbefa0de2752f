// What keeps one client from taking the server: requests shed with 503 while the event loop
// lags, and a rate limit per token (not per address: many clients share a NAT, one client
// has many addresses). Shed requests are counted in `app.shedding`.
import fp from 'fastify-plugin'
import { FaultlineError, Overloaded } from '../errors.js'
import { EventLoopPressure } from '../event-loop-pressure.js'
import { RateLimiter } from '../rate-limit.js'

/** Seconds a shed client is told to wait (retry-after). */
const RETRY_AFTER_S = 5

export default fp(async (app) => {
  const s = app.faultline
  const shedding = { requests: 0 }
  app.decorate('shedding', shedding)
  // Measured from ready on: building the app (the plugins after this one, and every route's
  // schemas compiled at ready) can hold the loop for over a second on a slow machine, and
  // that is not load. Measured from here, the first sample after it read the whole second
  // as blocked and shed the first requests. (A store's recovery runs before the app exists.)
  let pressure: EventLoopPressure | undefined
  if (s.maxEventLoopDelayMs > 0) {
    app.addHook('onReady', async () => { pressure = new EventLoopPressure(s.maxEventLoopDelayMs) })
    app.addHook('onClose', async () => { pressure?.close() })
  }
  app.decorate('isUnderPressure', () => pressure?.isUnderPressure() ?? false)
  const limiter = s.rateLimitPerMinute > 0 ? new RateLimiter(s.rateLimitPerMinute) : undefined
  if (s.maxEventLoopDelayMs <= 0 && limiter === undefined) return
  const overloaded = new Overloaded()
  // One hook for both: each hook Fastify runs per request costs a call chain of its own.
  app.addHook('onRequest', (req, reply, done) => {
    if (pressure?.isUnderPressure() === true) {
      // Shedding is the server working as meant, not a failure: one warn line with the delay
      // that was over its limit, no stack, and a count for /metrics.
      shedding.requests++
      req.log.warn({ eventLoopDelayMs: pressure.lastDelayMs }, 'shed a request: the server is under pressure')
      void reply.header('retry-after', RETRY_AFTER_S)
      done(overloaded)
      return
    }
    if (limiter !== undefined && req.routeOptions.config.rateLimit !== false) {
      // Per token; a request with none (public routes) per address.
      const waitMs = limiter.take(req.principal ?? req.ip)
      if (waitMs > 0) {
        const after = Math.ceil(waitMs / 1000)
        void reply.header('retry-after', after)
        done(new FaultlineError('RATE_LIMITED', `too many requests: ${limiter.max} per minute for this ${req.principal !== null ? 'token' : 'address'}, retry in ${after} s`))
        return
      }
    }
    done()
  })
}, { name: 'faultline-protection', fastify: '5.x', dependencies: ['faultline-settings', 'faultline-auth'] })

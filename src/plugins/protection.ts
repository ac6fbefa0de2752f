// What keeps one client from taking the server: requests shed with 503 while the event loop
// lags, and a rate limit per token (not per address: many clients share a NAT, one client
// has many addresses). Shed requests are counted in `app.shedding`.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { FaultlineError, Overloaded } from '../errors.js'
import { EventLoopPressure } from '../event-loop-pressure.js'

/** Seconds a shed client is told to wait (retry-after). */
const RETRY_AFTER_S = 5

export default fp(async (app) => {
  const s = app.faultline
  const shedding = { requests: 0 }
  app.decorate('shedding', shedding)
  const pressure = s.maxEventLoopDelayMs > 0 ? new EventLoopPressure(s.maxEventLoopDelayMs) : undefined
  app.decorate('isUnderPressure', () => pressure?.isUnderPressure() ?? false)
  if (pressure !== undefined) {
    const overloaded = new Overloaded()
    app.addHook('onClose', async () => { pressure.close() })
    // Shedding is the server working as meant, not a failure: one warn line with the delay
    // that was over its limit, no stack, and a count for /metrics.
    app.addHook('onRequest', (req, reply, done) => {
      if (!pressure.isUnderPressure()) { done(); return }
      shedding.requests++
      req.log.warn({ eventLoopDelayMs: pressure.lastDelayMs }, 'shed a request: the server is under pressure')
      void reply.header('retry-after', RETRY_AFTER_S)
      done(overloaded)
    })
  }
  if (s.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: s.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => req.principal !== null ? 'p:' + req.principal.id : 'ip:' + req.ip,
      errorResponseBuilder: (_req, ctx) => new FaultlineError('RATE_LIMITED', `too many requests: ${ctx.max} per minute for this token, retry in ${ctx.after}`),
      // The x-ratelimit-* headers go on 429s only: three headers per request is measurable cost.
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false }
    })
  }
}, { name: 'faultline-protection', fastify: '5.x', dependencies: ['faultline-settings', 'faultline-auth'] })

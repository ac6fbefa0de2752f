// What keeps one client from taking the server: requests shed with 503 while the event loop
// lags (under-pressure), and a rate limit per token (not per address: many clients share a
// NAT, one client has many addresses). Shed requests are counted in `app.shedding`.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { FaultlineError, Overloaded } from '../errors.js'

/** Seconds a shed client is told to wait (retry-after). */
const RETRY_AFTER_S = 5

export default fp(async (app) => {
  const s = app.faultline
  const shedding = { requests: 0 }
  app.decorate('shedding', shedding)
  if (s.maxEventLoopDelayMs > 0) {
    const overloaded = new Overloaded()
    await app.register(underPressure, {
      maxEventLoopDelay: s.maxEventLoopDelayMs,
      // Shedding is the server working as meant, not a failure: one warn line with what
      // was over its limit, no stack, and a count for /metrics.
      pressureHandler: (req, reply, type, value) => {
        shedding.requests++
        req.log.warn({ pressure: type, value }, 'shed a request: the server is under pressure')
        void reply.header('retry-after', RETRY_AFTER_S)
        // A rejection ends the onRequest hooks: the error handler answers 503.
        return Promise.reject(overloaded)
      }
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

// What keeps one client from taking the server: requests shed with 503 while the event loop
// lags (under-pressure), and a rate limit per token (not per address: many clients share a
// NAT, one client has many addresses).
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { FaultlineError, Overloaded } from '../errors.js'

export default fp(async (app) => {
  const s = app.faultline
  if (s.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: s.maxEventLoopDelayMs,
      customError: Overloaded,
      retryAfter: 5
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

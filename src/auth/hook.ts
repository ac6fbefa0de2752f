// The Bearer check on every non-public route. A WebSocket upgrade may instead carry the
// token as the subprotocol `bearer.<token>` (browsers cannot set headers on upgrades).
import type { FastifyReply, FastifyRequest } from 'fastify'
import { BEARER_SUBPROTOCOL_PREFIX as SUBPROTOCOL_PREFIX } from '../../schemas/protocol.js'
import { FaultlineError } from '../errors.js'
import type { Auth } from './index.js'
import { canRead, canReadMetrics, parseBearer } from './index.js'
import type { Principal } from './types.js'

/** The token a request presents, or null. */
export function requestToken (req: FastifyRequest): string | null {
  const h = req.headers.authorization
  if (h !== undefined) return parseBearer(h)
  const proto = req.headers['sec-websocket-protocol']
  if (typeof proto === 'string') {
    for (const p of proto.split(',')) {
      const s = p.trim()
      if (s.startsWith(SUBPROTOCOL_PREFIX) && s.length > SUBPROTOCOL_PREFIX.length) return s.slice(SUBPROTOCOL_PREFIX.length)
    }
  }
  return null
}

export function authHook (auth: Auth) {
  // Callback style, not async: this runs on every request and a promise per call shows.
  return function authenticateRequest (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    // Public routes, the API docs' own routes, and unknown routes (404) need no token.
    const url = req.routeOptions.url
    if (req.routeOptions.config.public === true || url === undefined || url.startsWith('/docs')) { done(); return }
    const token = requestToken(req)
    const principal = token === null ? null : auth.authenticate(token)
    if (principal === null) {
      done(new FaultlineError('UNAUTHORIZED', token === null ? 'a valid Bearer token is required (Authorization: Bearer <token>)' : 'a valid Bearer token is required: this token is not known'))
      return
    }
    // Server-wide counts are for admins and scrapers; a scraper's token reads nothing else.
    if (req.routeOptions.config.metrics === true ? !canReadMetrics(principal) : !canRead(principal)) {
      done(new FaultlineError('FORBIDDEN', req.routeOptions.config.metrics === true
        ? 'metrics are server-wide: they need an admin or a metrics token'
        : 'a metrics token may only read /metrics'))
      return
    }
    req.principal = principal
    done()
  }
}

/** The authenticated caller of a non-public route. */
export function principalOf (req: FastifyRequest): Principal {
  if (req.principal === null) throw new FaultlineError('UNAUTHORIZED', 'a valid Bearer token is required')
  return req.principal
}

// GET /v1/stream: the WebSocket that carries exits out and decisions back (docs/spec/api-v1.md). The
// auth hook has already refused an upgrade without a valid token (401, before any socket);
// this route refuses an upgrade that offers subprotocols but not faultline.v1, and opens a
// session on the app's hub (src/plugins/stream-hub.ts). Everything else is src/stream/.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { STREAM_SUBPROTOCOL } from '../schemas/protocol.js'
import { FaultlineError } from '../src/errors.js'
import { offersStreamProtocol } from '../src/stream/protocol.js'
import { Type } from 'typebox'
import { errors } from '../schemas/common.js'

/**
 * A client that offers subprotocols fails the handshake unless the server selects one of
 * them, and the server only speaks faultline.v1: offering `bearer.<token>` alone would open
 * a socket the client then drops. Refused before the upgrade, with a reason it can read.
 */
function requireStreamProtocol (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  if (offersStreamProtocol(req.headers['sec-websocket-protocol'])) { done(); return }
  done(new FaultlineError('VALIDATION', `offer the subprotocol ${STREAM_SUBPROTOCOL} (beside bearer.<token>): it is the only one this server speaks`))
}

/** At most FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN sockets per token: refused before the upgrade. */
function requireSocketAllowance (hub: FastifyInstance['streamHub']) {
  return function (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    if (req.principal === null || hub.admits(req.principal)) { done(); return }
    done(new FaultlineError('TOO_MANY_SOCKETS', `this token has ${hub.options.maxSocketsPerToken} stream sockets open: close one first`))
  }
}

export default async function streamRoutes (app: FastifyInstance): Promise<void> {
  const hub = app.streamHub

  app.get('/stream', {
    websocket: true,
    schema: {
      operationId: 'openStream',
      tags: ['stream'],
      summary: 'The exit stream (WebSocket; see docs/stream.md)',
      description: 'A WebSocket upgrade (subprotocol faultline.v1). The messages it carries are described by the AsyncAPI document at /asyncapi.json.',
      response: { 101: Type.Null({ description: 'Switching Protocols: the WebSocket is open' }), ...errors() }
    },
    onRequest: [requireStreamProtocol, requireSocketAllowance(hub)]
  }, (socket, req) => {
    // The auth hook runs on every non-public route, upgrades included: principal is set.
    if (req.principal === null) { socket.close(1008, 'unauthenticated'); return }
    // With no extension (permessage-deflate is off) frames are written to the TCP socket
    // directly, built once per event; otherwise everything goes through ws.
    // The upgrade request's logger: every line of the session carries its request id.
    hub.open(socket, req.principal, socket.extensions === '' ? req.raw.socket : undefined, req.log)
    req.log.debug({ principal: req.principal.id }, 'stream session opened')
    socket.on('close', (code: number) => { req.log.debug({ principal: req.principal?.id, code }, 'stream session closed') })
  })
}

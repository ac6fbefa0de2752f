// GET /v1/stream: the WebSocket that carries exits out and decisions back (api-v1.md). The
// auth hook has already refused an upgrade without a valid token (401, before any socket);
// this route refuses an upgrade that offers subprotocols but not faultline.v1, and opens a
// session on the hub. Everything else is src/stream/; app.ts wires the subprotocol choice
// and the shutdown (1001) because both belong to hooks outside this plugin.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Control } from '../src/control/index.js'
import { Type } from 'typebox'
import { errors } from '../schemas/common.js'
import { Validation } from '../src/errors.js'
import { StreamHub } from '../src/stream/hub.js'
import { streamOptions } from '../src/stream/options.js'
import type { StreamOptions } from '../src/stream/options.js'
import { STREAM_SUBPROTOCOL, offersStreamProtocol } from '../src/stream/protocol.js'

export type StreamRouteOptions = Partial<StreamOptions>

// The hub serving each Control, for /metrics, shutdown (app.ts) and tests (the route plugin
// is encapsulated).
const hubs = new WeakMap<Control, StreamHub>()

export function streamHub (control: Control): StreamHub | undefined {
  return hubs.get(control)
}

/**
 * A client that offers subprotocols fails the handshake unless the server selects one of
 * them, and the server only speaks faultline.v1: offering `bearer.<token>` alone would open
 * a socket the client then drops. Refused before the upgrade, with a reason it can read.
 */
function requireStreamProtocol (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  if (offersStreamProtocol(req.headers['sec-websocket-protocol'])) { done(); return }
  done(new Validation(`offer the subprotocol ${STREAM_SUBPROTOCOL} (beside bearer.<token>): it is the only one this server speaks`))
}

export default async function streamRoutes (app: FastifyInstance, opts: StreamRouteOptions): Promise<void> {
  // Settings carry `stream` (config); the register options win, for tests.
  const options = streamOptions({ version: app.faultline.version }, app.faultline.stream, opts)
  const hub = new StreamHub(app.control, options, app.log)
  hubs.set(app.control, hub)

  app.get('/stream', {
    websocket: true,
    schema: {
      operationId: 'openStream',
      tags: ['stream'],
      summary: 'The exit stream (WebSocket; see docs/stream.md)',
      description: 'A WebSocket upgrade (subprotocol faultline.v1). The messages it carries are described by the AsyncAPI document at /asyncapi.json.',
      response: { 101: Type.Null({ description: 'Switching Protocols: the WebSocket is open' }), ...errors() }
    },
    onRequest: requireStreamProtocol
  }, (socket, req) => {
    // The auth hook runs on every non-public route, upgrades included: principal is set.
    if (req.principal === null) { socket.close(1008, 'unauthenticated'); return }
    // With no extension (permessage-deflate is off) frames are written to the TCP socket
    // directly, built once per event; otherwise everything goes through ws.
    hub.open(socket, req.principal, socket.extensions === '' ? req.raw.socket : undefined)
  })
}

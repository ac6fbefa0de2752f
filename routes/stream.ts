// GET /v1/stream: the WebSocket that carries exits out and decisions back (api-v1.md). The
// auth hook has already refused an upgrade without a valid token (401, before any socket);
// this route only opens a session on the hub. Everything else is src/stream/.
import type { FastifyInstance } from 'fastify'
import type { Control } from '../src/control/index.js'
import { StreamHub } from '../src/stream/hub.js'
import { streamOptions } from '../src/stream/options.js'
import type { StreamOptions } from '../src/stream/options.js'
import { selectProtocol } from '../src/stream/protocol.js'

export type StreamRouteOptions = Partial<StreamOptions>

// The hub serving each Control, for /metrics and tests (the route plugin is encapsulated).
const hubs = new WeakMap<Control, StreamHub>()

export function streamHub (control: Control): StreamHub | undefined {
  return hubs.get(control)
}

export default async function streamRoutes (app: FastifyInstance, opts: StreamRouteOptions): Promise<void> {
  // Settings may carry `stream` (config); the register options win, for tests.
  const settings = app.faultline as { version: string, stream?: Partial<StreamOptions> }
  const options = streamOptions({ version: settings.version }, settings.stream, opts)
  const hub = new StreamHub(app.control, options, app.log)
  hubs.set(app.control, hub)

  // Never echo `bearer.<token>`: ws would answer with the first protocol offered.
  const wss = app.websocketServer as { options: { handleProtocols?: unknown } }
  wss.options.handleProtocols ??= selectProtocol

  app.addHook('preClose', async () => { hub.close() })

  app.get('/stream', {
    websocket: true,
    schema: { tags: ['stream'], summary: 'The exit stream (WebSocket; see docs/stream.md)' },
    // An upgrade refused with an HTTP answer (401, 429, 503) leaves a paused socket that
    // never sees the peer go: close it once the answer is out, or it is held for ever (and
    // app.close() waits on it). @fastify/websocket does this too, but only when its own
    // onRequest hook ran, and a hook before it (auth) may have thrown first.
    onResponse: async (req) => {
      if (req.headers.upgrade?.toLowerCase() === 'websocket') req.raw.socket?.destroy()
    }
  }, (socket, req) => {
    // The auth hook runs on every non-public route, upgrades included: principal is set.
    if (req.principal === null) { socket.close(1008, 'unauthenticated'); return }
    // With no extension (permessage-deflate is off) frames are written to the TCP socket
    // directly, built once per event; otherwise everything goes through ws.
    hub.open(socket, req.principal, socket.extensions === '' ? req.raw.socket : undefined)
  })
}

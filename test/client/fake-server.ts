// A small scripted stand-in for the faultline server, on 127.0.0.1 with an ephemeral port:
// HTTP routes answered by a test-supplied handler, and a WebSocket endpoint at /v1/stream
// that records what each socket receives and lets the test reply. Only what the client
// tests need; it makes no attempt to be the real server.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'

export interface RecordedRequest { method: string, url: string, headers: http.IncomingHttpHeaders, body: unknown }
export type RestHandler = (req: RecordedRequest) => { status: number, body?: unknown, raw?: string }

export interface FakeSocket {
  ws: WebSocket
  headers: http.IncomingHttpHeaders
  protocol: string
  /** Every message the client sent on this socket, parsed. */
  received: Array<Record<string, unknown>>
  send: (msg: unknown) => void
  /** Resolves with the next message the client sends (or one already received but not yet taken). */
  next: () => Promise<Record<string, unknown>>
}

export interface FakeServerOptions {
  token?: string
  rest?: RestHandler
  /** Send hello on connect (default true). */
  hello?: boolean | Record<string, unknown>
  /** Answer pings (default true): false plays a dead server. */
  autoPong?: boolean
}

export interface FakeServer {
  url: string
  requests: RecordedRequest[]
  sockets: FakeSocket[]
  /** Resolves with the n-th socket (0-based) once it connects. */
  socket: (n: number) => Promise<FakeSocket>
  upgrades: number
  close: () => Promise<void>
}

export async function startFakeServer (opts: FakeServerOptions = {}): Promise<FakeServer> {
  const requests: RecordedRequest[] = []
  const sockets: FakeSocket[] = []
  const socketWaiters = new Map<number, (s: FakeSocket) => void>()
  const state = { upgrades: 0 }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString()
      const recorded: RecordedRequest = {
        method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text === '' ? undefined : JSON.parse(text)
      }
      requests.push(recorded)
      const answer = opts.rest?.(recorded) ?? { status: 404, body: { statusCode: 404, code: 'FST_ERR_NOT_FOUND', error: 'Not Found', message: 'no route' } }
      const payload = answer.raw ?? (answer.body === undefined ? '' : JSON.stringify(answer.body))
      res.writeHead(answer.status, payload === '' ? {} : { 'content-type': answer.raw !== undefined ? 'text/plain' : 'application/json' })
      res.end(payload)
    })
  })
  const wss = new WebSocketServer({
    noServer: true,
    autoPong: opts.autoPong ?? true,
    handleProtocols: (protocols) => protocols.has('faultline.v1') ? 'faultline.v1' : false
  })
  server.on('upgrade', (req, socket, head) => {
    state.upgrades++
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    const bearer = req.headers.authorization === `Bearer ${opts.token ?? ''}` || protocols.includes(`bearer.${opts.token ?? ''}`)
    if (opts.token !== undefined && !bearer) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const inbox: Array<Record<string, unknown>> = []
      const waiters: Array<(m: Record<string, unknown>) => void> = []
      const fake: FakeSocket = {
        ws,
        headers: req.headers,
        protocol: ws.protocol,
        received: [],
        send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
        next: async () => {
          const ready = inbox.shift()
          if (ready !== undefined) return ready
          return await new Promise((resolve) => waiters.push(resolve))
        }
      }
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as Record<string, unknown>
        fake.received.push(msg)
        const waiter = waiters.shift()
        if (waiter !== undefined) waiter(msg)
        else inbox.push(msg)
      })
      const hello = opts.hello ?? true
      if (hello !== false) fake.send(hello === true ? { type: 'hello', protocol: 1, server: 'faultline/test' } : hello)
      const n = sockets.push(fake) - 1
      socketWaiters.get(n)?.(fake)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    sockets,
    get upgrades () { return state.upgrades },
    socket: async (n) => {
      const s = sockets[n]
      if (s !== undefined) return s
      return await new Promise((resolve) => socketWaiters.set(n, resolve))
    },
    close: async () => {
      for (const client of wss.clients) client.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

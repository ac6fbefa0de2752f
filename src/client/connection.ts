// One WebSocket to GET /v1/stream: the URL, the token (a header, or the subprotocols a
// browser must use), and a heartbeat that treats a silent peer as gone. What to do with the
// socket's messages and its end is the caller's (stream.ts).
import WebSocket from 'ws'
import type { RawData } from 'ws'
import { BEARER_SUBPROTOCOL_PREFIX, STREAM_SUBPROTOCOL } from '../../schemas/protocol.js'

export interface ConnectionOptions {
  /** The server's base URL, http(s)://host:port. */
  url: string
  token?: string | undefined
  auth?: 'header' | 'subprotocol' | undefined
  /** No traffic at all for this long means a dead peer: terminate. 0 disables. */
  heartbeatTimeoutMs: number
  pingIntervalMs: number
}

export interface ConnectionHandlers {
  message: (data: RawData) => void
  /** The upgrade was answered with an HTTP status instead of a socket. */
  refused: (status: number) => void
  close: (code: number, reason: string) => void
}

export function streamUrl (base: string): string {
  const url = new URL('v1/stream', base.endsWith('/') ? base : base + '/')
  url.protocol = url.protocol === 'https:' ? 'wss:' : url.protocol === 'http:' ? 'ws:' : url.protocol
  return url.toString()
}

/** Opens the socket and wires it; the returned socket is the caller's to send on and close. */
export function openConnection (opts: ConnectionOptions, on: ConnectionHandlers): WebSocket {
  const { token } = opts
  const subprotocol = opts.auth === 'subprotocol'
  const protocols = subprotocol ? [STREAM_SUBPROTOCOL, ...(token !== undefined ? [BEARER_SUBPROTOCOL_PREFIX + token] : [])] : undefined
  const headers: Record<string, string> = {}
  if (!subprotocol && token !== undefined) headers.authorization = `Bearer ${token}`
  const ws = new WebSocket(streamUrl(opts.url), protocols, { headers })
  let lastTraffic = Date.now()
  let heartbeat: ReturnType<typeof setInterval> | undefined
  const traffic = (): void => { lastTraffic = Date.now() }
  ws.on('open', () => {
    traffic()
    if (opts.heartbeatTimeoutMs <= 0) return
    heartbeat = setInterval(() => {
      // No pong, no message: the peer or the path is gone even if TCP has not noticed.
      if (Date.now() - lastTraffic > opts.heartbeatTimeoutMs) { ws.terminate(); return }
      ws.ping()
    }, opts.pingIntervalMs)
    heartbeat.unref?.()
  })
  ws.on('message', (data: RawData) => { traffic(); on.message(data) })
  ws.on('pong', traffic)
  ws.on('ping', traffic)
  ws.on('unexpected-response', (_req, res) => {
    res.resume()
    on.refused(res.statusCode ?? 0)
    ws.terminate()
  })
  // 'close' always follows; the error only explains it.
  ws.on('error', () => {})
  ws.on('close', (code: number, reason: Buffer) => {
    clearInterval(heartbeat)
    on.close(code, reason.toString())
  })
  return ws
}

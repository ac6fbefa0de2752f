// The exit stream for the browser: the client's ExitStream runs on the `ws` package, and a
// page has only the native WebSocket, which cannot set headers, so the token goes as the
// `bearer.<token>` subprotocol beside `faultline.v1` (docs/stream.md). Same message types
// as the client; requests matched to replies by id; reconnects with backoff and restores
// its subscriptions (a controller reclaims its VM with takeover, as ExitStream does).
import { STREAM_PROTOCOL, STREAM_SUBPROTOCOL } from '../src/client/constants.js'
import type {
  AckMessage, ClientMessage, DecisionAction, DecidedMessage, ErrorMessage, ExitMessage, Role,
  RevokedMessage, ServerMessage, StateMessage
} from '../src/client/types.js'

export type LiveEvent = ExitMessage | DecidedMessage | StateMessage | RevokedMessage
export type LiveStatus = 'connecting' | 'open' | 'closed'

/** A stream request the server refused: its code (CONFLICT, EXIT_NOT_PENDING...) and message. */
export class LiveError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'LiveError'
    this.code = code
  }
}

interface Pending { resolve: (ack: AckMessage) => void, reject: (e: LiveError) => void }

type Listener<T> = (value: T) => void

export function streamUrl (origin: string): string {
  const url = new URL('/v1/stream', origin)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url.toString()
}

export class LiveStream {
  status: LiveStatus = 'connecting'
  /** Sockets that closed before the server said hello, in a row: the token may be refused. */
  failures = 0
  private ws: WebSocket | undefined
  /** The server said hello on the current socket: requests may go. */
  private ready = false
  private nextId = 1
  private closed = false
  private retry: ReturnType<typeof setTimeout> | undefined
  private readonly pending = new Map<string, Pending>()
  private readonly subs = new Map<string, Role>()
  private readonly eventListeners = new Set<Listener<LiveEvent>>()
  private readonly statusListeners = new Set<Listener<LiveStatus>>()
  private readonly errorListeners = new Set<Listener<LiveError>>()

  constructor (private readonly token: string, private readonly origin: string) {}

  onEvent (fn: Listener<LiveEvent>): () => void { this.eventListeners.add(fn); return () => this.eventListeners.delete(fn) }
  onStatus (fn: Listener<LiveStatus>): () => void { this.statusListeners.add(fn); return () => this.statusListeners.delete(fn) }
  /** Errors that answer no request of ours (a lost resubscription). */
  onError (fn: Listener<LiveError>): () => void { this.errorListeners.add(fn); return () => this.errorListeners.delete(fn) }

  start (): void {
    if (this.ws !== undefined || this.closed) return
    this.setStatus('connecting')
    const ws = new WebSocket(streamUrl(this.origin), [STREAM_SUBPROTOCOL, `bearer.${this.token}`])
    this.ws = ws
    let greeted = false
    ws.addEventListener('message', (ev: MessageEvent) => {
      let msg: ServerMessage
      try { msg = JSON.parse(String(ev.data)) as ServerMessage } catch { return }
      if (msg.type === 'hello') {
        if (msg.protocol !== STREAM_PROTOCOL) { this.close(); return }
        greeted = true
        this.ready = true
        this.failures = 0
        // Restore first, so that a status listener sees what is already being resubscribed.
        this.restore()
        this.setStatus('open')
        return
      }
      this.dispatch(msg)
    })
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return
      this.ws = undefined
      this.ready = false
      if (!greeted) this.failures++
      // Requests in flight are lost with the socket; subscriptions come back on the next one.
      for (const [id, p] of this.pending) {
        this.pending.delete(id)
        p.reject(new LiveError('DISCONNECTED', 'the stream closed before the server answered'))
      }
      this.setStatus('closed')
      if (this.closed) return
      const delay = Math.min(10_000, 500 * 2 ** Math.min(this.failures, 5))
      this.retry = setTimeout(() => this.start(), delay)
    })
  }

  close (): void {
    this.closed = true
    clearTimeout(this.retry)
    this.ws?.close(1000, 'dashboard closed')
  }

  /** Subscribes (or changes role); resolves once the backlog is in (the ack). */
  async subscribe (vm: string, role: Role, takeover = false): Promise<AckMessage> {
    const ack = await this.request({ type: 'subscribe', vm, role, ...(takeover ? { takeover } : {}) })
    this.subs.set(vm, role)
    return ack
  }

  /** Whether this stream keeps a subscription to vm (restored after a reconnect). */
  has (vm: string): boolean { return this.subs.has(vm) }

  async unsubscribe (vm: string): Promise<void> {
    this.subs.delete(vm)
    if (this.ready) await this.request({ type: 'unsubscribe', vm })
  }

  async decide (vm: string, exit: number, action: DecisionAction): Promise<AckMessage> {
    return await this.request({ type: 'decision', vm, exit, action })
  }

  private async request (message: ClientMessage): Promise<AckMessage> {
    const ws = this.ws
    if (ws === undefined || !this.ready) throw new LiveError('DISCONNECTED', 'the stream is not connected')
    const id = `w${this.nextId++}`
    return await new Promise<AckMessage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      ws.send(JSON.stringify({ ...message, id }))
    })
  }

  private restore (): void {
    for (const [vm, role] of this.subs) {
      this.subscribe(vm, role, role === 'controller').catch((e: unknown) => {
        this.subs.delete(vm)
        if (e instanceof LiveError) for (const fn of this.errorListeners) fn(e)
      })
    }
  }

  private dispatch (msg: ServerMessage): void {
    switch (msg.type) {
      case 'ack': {
        const p = this.pending.get(String(msg.id))
        if (p !== undefined) { this.pending.delete(String(msg.id)); p.resolve(msg) }
        return
      }
      case 'error': return this.onServerError(msg)
      case 'revoked':
        this.subs.delete(msg.vm)
        break
      case 'exit': case 'decided': case 'state':
        break
      default:
        // subscribed (the ack follows it), or a message type a newer server added.
        return
    }
    for (const fn of this.eventListeners) fn(msg)
  }

  private onServerError (msg: ErrorMessage): void {
    const error = new LiveError(msg.code, msg.message)
    const p = msg.id !== undefined ? this.pending.get(String(msg.id)) : undefined
    if (p === undefined) { for (const fn of this.errorListeners) fn(error); return }
    this.pending.delete(String(msg.id))
    p.reject(error)
  }

  private setStatus (s: LiveStatus): void {
    this.status = s
    for (const fn of this.statusListeners) fn(s)
  }
}

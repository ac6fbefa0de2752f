// ExitStream: one WebSocket to GET /v1/stream carrying any number of VMs, kept alive across
// server restarts and network drops. What it promises the caller (docs/spec/api-v1.md "Guarantees"):
// - every subscription is restored after a reconnect, with `since` = the last seq seen for
//   that VM, so no event is missed; events already seen are dropped (dedupe.ts);
// - if the server no longer keeps those events (SEQ_EXPIRED) it subscribes afresh and says
//   so with a 'gap' event;
// - a decision in flight when the socket drops is sent again on the new socket: the server
//   applies a decision at most once, so the retry is safe (it may then answer
//   EXIT_NOT_PENDING if the first copy had landed).
import WebSocket from 'ws'
import type { RawData } from 'ws'
import { STREAM_PROTOCOL } from '../../schemas/protocol.js'
import { AsyncQueue } from './async-queue.js'
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.js'
import type { BackoffOptions } from './backoff.js'
import { EventCursors } from './dedupe.js'
import { TypedEmitter } from './emitter.js'
import { FaultlineStreamError } from './errors.js'
import { openConnection } from './connection.js'
import { RequestTracker } from './requests.js'
import type { NewRequest, PendingRequest } from './requests.js'
import type {
  AckMessage, DecidedMessage, DecisionAction, DecisionMessage, DecisionOptions, ErrorMessage, ExitFields, ExitMessage, HelloMessage, RevokedMessage, Role, ServerMessage, StateMessage, SubscribeMessage, SubscribedMessage
} from './types.js'


export interface ExitStreamOptions {
  /** The server's base URL, http(s)://host:port; the stream is at /v1/stream on it. */
  url: string
  token?: string
  /**
   * How to send the token: the Authorization header (default), or the subprotocols
   * `faultline.v1` + `bearer.<token>` as a browser must.
   */
  auth?: 'header' | 'subprotocol'
  /** Reconnect with backoff after the socket drops (default true), or false to end instead. */
  reconnect?: boolean | BackoffOptions
  /** No traffic at all (messages, pongs) for this long means a dead server: reconnect. 0 disables. Default 30000. */
  heartbeatTimeoutMs?: number
  /** How often to ping so that an idle but live server still answers. Default heartbeatTimeoutMs / 3. */
  pingIntervalMs?: number
  /** A subscribe, unsubscribe or decision with no reply in this long rejects with TIMEOUT. Default 30000. */
  requestTimeoutMs?: number
  /** Exits buffered for exits() while nobody reads; past it the oldest are dropped. Default 10000; 0 disables the buffer. */
  exitBuffer?: number
  /** For tests: the jitter source. */
  random?: () => number
}

export interface SubscribeOptions {
  role: Role
  /** Replay the events after this seq first. */
  since?: number
  /** Take control from the VM's current controller (it gets `revoked`). */
  takeover?: boolean
}

export interface GapEvent { vm: string, since: number, seq: number }
export interface ReconnectEvent { attempt: number, delayMs: number, code: number, reason: string }
export interface DisconnectEvent { code: number, reason: string }

export interface ExitStreamEvents {
  hello: HelloMessage
  subscribed: SubscribedMessage
  exit: ExitMessage
  decided: DecidedMessage
  state: StateMessage
  revoked: RevokedMessage
  /** An error the server sent that answers no request of ours, or a lost resubscription. */
  error: FaultlineStreamError
  /** Events of a VM were lost: the server no longer kept those after `since`. */
  gap: GapEvent
  disconnect: DisconnectEvent
  reconnect: ReconnectEvent
  close: undefined
}

interface Subscription { role: Role, takeover: boolean }

export class ExitStream extends TypedEmitter<ExitStreamEvents> {
  private readonly opts: ExitStreamOptions
  private readonly backoff: Required<BackoffOptions> | undefined
  private readonly heartbeatTimeoutMs: number
  private readonly pingIntervalMs: number
  private readonly queue: AsyncQueue<ExitMessage>
  private readonly cursors = new EventCursors()
  private readonly subs = new Map<string, Subscription>()
  private readonly requests: RequestTracker
  private ws: WebSocket | undefined
  private connected = false
  private closing = false
  private failed: FaultlineStreamError | undefined
  private fatal: FaultlineStreamError | undefined
  private attempts = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private readonly readyPromise: Promise<HelloMessage>
  private resolveReady!: (hello: HelloMessage) => void
  private rejectReady!: (error: FaultlineStreamError) => void
  private closedPromise: Promise<void> | undefined

  constructor (opts: ExitStreamOptions) {
    super()
    this.opts = opts
    this.backoff = opts.reconnect === false
      ? undefined
      : { ...DEFAULT_BACKOFF, ...(typeof opts.reconnect === 'object' ? opts.reconnect : {}) }
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? 30_000
    this.pingIntervalMs = opts.pingIntervalMs ?? Math.max(1, Math.floor(this.heartbeatTimeoutMs / 3))
    this.requests = new RequestTracker(opts.requestTimeoutMs ?? 30_000)
    this.queue = new AsyncQueue(opts.exitBuffer ?? 10_000)
    this.readyPromise = new Promise((resolve, reject) => { this.resolveReady = resolve; this.rejectReady = reject })
    // Nobody may await ready(): a failed first connection must not be an unhandled rejection.
    this.readyPromise.catch(() => {})
    this.connect()
  }

  /** Resolves with the server's hello on the first connection; rejects if the stream fails first. */
  async ready (): Promise<HelloMessage> { return await this.readyPromise }

  /** Whether a socket is open and greeted now. */
  get isConnected (): boolean { return this.connected }

  /** The VMs this stream is subscribed to, and in which role. */
  get subscriptions (): ReadonlyMap<string, Role> {
    return new Map([...this.subs].map(([vm, s]) => [vm, s.role]))
  }

  /** The last seq this stream saw for a VM (what a reconnect passes as `since`). */
  lastSeq (vm: string): number | undefined { return this.cursors.lastSeq(vm) }

  /** Exits that the exits() buffer dropped because nobody read them. */
  get droppedExits (): number { return this.queue.dropped }

  /**
   * Subscribes to one VM, or '*' (observers: every VM of the tenant). Resolves on
   * `subscribed`; rejects with the server's error (VM_NOT_FOUND, CONFLICT, FORBIDDEN, ...).
   * The subscription is restored by every reconnect until unsubscribe() or `revoked`.
   */
  async subscribe (vm: string, opts: SubscribeOptions): Promise<SubscribedMessage> {
    this.subs.set(vm, { role: opts.role, takeover: opts.takeover === true })
    if (opts.since !== undefined) this.cursors.resumeFrom(vm, opts.since)
    const message: SubscribeMessage = {
      type: 'subscribe',
      vm,
      role: opts.role,
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.takeover === true ? { takeover: true } : {})
    }
    return await this.request<SubscribedMessage>((resolve, reject) => ({ kind: 'subscribe', vm, message, resolve, reject }))
  }

  /** Stops the VM's events on this socket and forgets the subscription. */
  async unsubscribe (vm: string): Promise<void> {
    this.subs.delete(vm)
    // Not connected: there is nothing to undo on the server, the next socket will not ask for it.
    if (!this.connected) return
    await this.request<AckMessage | undefined>((resolve, reject) => ({ kind: 'unsubscribe', vm, message: { type: 'unsubscribe', vm }, resolve, reject }))
  }

  /**
   * Decides a pending exit (this stream must be the VM's controller). Resolves on the ack;
   * rejects with the server's error code: EXIT_NOT_PENDING, INVALID_ACTION, NOT_CONTROLLER...
   */
  async decide (vm: string, exit: number | ExitFields, action: DecisionAction, opts: DecisionOptions = {}): Promise<AckMessage> {
    const exitId = typeof exit === 'number' ? exit : exit.exit
    const message: DecisionMessage = {
      type: 'decision',
      vm,
      exit: exitId,
      action,
      ...(opts.ret !== undefined ? { ret: opts.ret } : {}),
      ...(opts.data !== undefined ? { data: opts.data } : {}),
      ...(opts.inject !== undefined ? { inject: opts.inject } : {}),
      ...(opts.reason !== undefined ? { reason: opts.reason } : {})
    }
    return await this.request<AckMessage>((resolve, reject) => ({ kind: 'decision', vm, message, resolve, reject }))
  }

  /**
   * Every new exit of the subscribed VMs that waits for a decision (`pending`), in order,
   * for `for await`. One reader at a time;
   * exits that arrive before the loop starts are buffered. Leaving the loop early leaves
   * the stream running; the iterator ends on close() and throws if the stream fails.
   */
  exits (): AsyncIterableIterator<ExitMessage> {
    const queue = this.queue
    let done = false
    const iterator: AsyncIterableIterator<ExitMessage> = {
      next: async () => done ? { value: undefined, done: true } : await queue.next(),
      return: async () => { done = true; return { value: undefined, done: true } },
      [Symbol.asyncIterator]: () => iterator
    }
    return iterator
  }

  /** Closes the socket for good: pending requests reject with CLOSED, exits() ends. */
  async close (): Promise<void> {
    if (this.closedPromise !== undefined) return await this.closedPromise
    this.closing = true
    clearTimeout(this.reconnectTimer)
    const ws = this.ws
    this.closedPromise = new Promise<void>((resolve) => {
      if (ws === undefined || ws.readyState === WebSocket.CLOSED) { resolve(); return }
      ws.once('close', () => resolve())
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
      else ws.close(1000, 'client closed')
    })
    this.finish(new FaultlineStreamError('CLOSED', 'the stream was closed'), false)
    return await this.closedPromise
  }

  // ---- connection ------------------------------------------------------------------------

  private connect (): void {
    const ws = openConnection({
      url: this.opts.url,
      token: this.opts.token,
      auth: this.opts.auth,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs,
      pingIntervalMs: this.pingIntervalMs
    }, {
      message: (data) => { this.onMessage(data) },
      refused: (status) => {
        // A refused token will be refused again: retrying would only hammer the server.
        if (status === 401 || status === 403) {
          this.fatal = new FaultlineStreamError('UNAUTHORIZED', `the server refused the stream upgrade (HTTP ${status})`)
        }
      },
      close: (code, reason) => { this.onClose(ws, code, reason) }
    })
    this.ws = ws
  }

  private onClose (ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return
    this.ws = undefined
    const wasConnected = this.connected
    this.connected = false
    if (this.closing || this.failed !== undefined) return
    if (wasConnected) this.emit('disconnect', { code, reason })
    for (const req of this.requests.all()) {
      if (!req.sent) continue
      // An unsubscribe needs no retry: the next socket does not subscribe that VM.
      if (req.kind === 'unsubscribe') { this.requests.settle(req); req.resolve(undefined); continue }
      req.sent = false
    }
    if (this.fatal !== undefined) { this.finish(this.fatal, true); return }
    if (this.backoff === undefined) {
      this.finish(new FaultlineStreamError('DISCONNECTED', `the stream closed (${code}${reason !== '' ? ' ' + reason : ''})`), true)
      return
    }
    if (this.attempts >= this.backoff.maxAttempts) {
      this.finish(new FaultlineStreamError('DISCONNECTED', `gave up after ${this.attempts} reconnect attempts`), true)
      return
    }
    const delayMs = backoffDelay(this.attempts, this.backoff, this.opts.random)
    this.attempts++
    this.emit('reconnect', { attempt: this.attempts, delayMs, code, reason })
    this.reconnectTimer = setTimeout(() => { if (!this.closing) this.connect() }, delayMs)
  }

  /** The stream is over: every request rejects, the iterator ends (with the error if it failed). */
  private finish (error: FaultlineStreamError, failed: boolean): void {
    if (failed) this.failed = error
    this.rejectReady(error)
    this.requests.rejectAll(error)
    this.queue.end(failed ? error : undefined)
    this.emit('close', undefined)
  }

  // ---- requests --------------------------------------------------------------------------

  /** Tracks a request and sends it now if a socket is open (else after the next hello). */
  private async request<T> (make: (resolve: (reply: T) => void, reject: (e: FaultlineStreamError) => void) => NewRequest): Promise<T> {
    if (this.failed !== undefined) throw this.failed
    if (this.closing) throw new FaultlineStreamError('CLOSED', 'the stream was closed')
    return await new Promise<T>((resolve, reject) => {
      const req = this.requests.track(make(resolve, reject))
      if (this.connected) this.send(req)
    })
  }

  private send (req: PendingRequest): void {
    const ws = this.ws
    if (ws === undefined || !this.connected) return
    req.sent = true
    ws.send(JSON.stringify({ ...req.message, id: req.id }))
  }

  /** After hello: subscriptions first (so decisions find us controller), then the rest. */
  private flush (): void {
    const subscribing = new Set<string>()
    for (const req of this.requests.all()) {
      if (req.kind === 'subscribe' && !req.sent) { this.send(req); subscribing.add(req.vm) }
    }
    for (const [vm, sub] of this.subs) {
      if (!subscribing.has(vm)) this.resubscribe(vm, sub)
    }
    for (const req of this.requests.all()) {
      if (!req.sent) this.send(req)
    }
  }

  private resubscribe (vm: string, sub: Subscription): void {
    const since = vm === '*' ? undefined : this.cursors.lastSeq(vm)
    // A controller that was never revoked reclaims its VM: its old socket may still be
    // registered on a server that has not yet noticed it died.
    const takeover = sub.takeover || sub.role === 'controller'
    const message: SubscribeMessage = {
      type: 'subscribe',
      vm,
      role: sub.role,
      ...(since !== undefined ? { since } : {}),
      ...(takeover ? { takeover: true } : {})
    }
    const req = this.requests.track({
      kind: 'subscribe',
      vm,
      message,
      resolve: () => {},
      reject: (error) => { if (error.code !== 'CLOSED') this.emit('error', error) }
    })
    this.send(req)
  }

  // ---- messages --------------------------------------------------------------------------

  private onMessage (data: RawData): void {
    let msg: ServerMessage
    try {
      msg = JSON.parse(data.toString()) as ServerMessage
    } catch {
      this.emit('error', new FaultlineStreamError('BAD_MESSAGE', 'the server sent a frame that is not JSON'))
      return
    }
    if (typeof msg !== 'object' || msg === null) return
    switch (msg.type) {
      case 'hello': this.onHello(msg); break
      case 'subscribed': this.onSubscribed(msg); break
      case 'ack': this.onAck(msg); break
      case 'error': this.onError(msg); break
      case 'revoked':
        this.subs.delete(msg.vm)
        this.emit('revoked', msg)
        break
      case 'exit':
        if (this.cursors.accept(msg)) {
          // A rule already decided it in the server: nobody is to answer it, so the
          // deciding loop never sees it; listeners of 'exit' still do.
          if (msg.pending) this.queue.push(msg)
          this.emit('exit', msg)
        }
        break
      case 'decided':
        if (this.cursors.accept(msg)) this.emit('decided', msg)
        break
      case 'state':
        if (this.cursors.accept(msg)) this.emit('state', msg)
        break
      default:
        // A newer server may add message types; they are not errors for this client.
        break
    }
  }

  private onHello (msg: HelloMessage): void {
    if (msg.protocol !== STREAM_PROTOCOL) {
      this.fatal = new FaultlineStreamError('PROTOCOL', `the server speaks stream protocol ${String(msg.protocol)}, this client ${STREAM_PROTOCOL}`)
      this.ws?.close(1002, 'unsupported protocol')
      return
    }
    this.connected = true
    this.attempts = 0
    this.emit('hello', msg)
    this.resolveReady(msg)
    this.flush()
  }

  private onSubscribed (msg: SubscribedMessage): void {
    const found = this.requests.find(msg.id, 'subscribe', msg.vm)
    const req = found?.kind === 'subscribe' ? found : undefined
    const asked = req?.message.since
    // Without `since` nothing older is replayed: start at the VM's current seq.
    if (asked === undefined && msg.vm !== '*') this.cursors.startAt(msg.vm, msg.seq)
    if (req !== undefined) {
      this.requests.settle(req)
      if (req.gapSince !== undefined) this.emit('gap', { vm: msg.vm, since: req.gapSince, seq: msg.seq })
      req.resolve(msg)
    }
    this.emit('subscribed', msg)
  }

  private onAck (msg: AckMessage): void {
    const req = this.requests.find(msg.id)
    // A subscribe is answered by `subscribed`; an ack after it only marks the end of its backlog.
    if (req === undefined || req.kind === 'subscribe') return
    this.requests.settle(req)
    req.resolve(msg)
  }

  private onError (msg: ErrorMessage): void {
    const req = this.requests.find(msg.id, msg.vm !== undefined && msg.exit === undefined ? 'subscribe' : undefined, msg.vm)
    const error = new FaultlineStreamError(msg.code, msg.message, {
      ...(msg.vm !== undefined ? { vm: msg.vm } : {}),
      ...(msg.exit !== undefined ? { exit: msg.exit } : {})
    })
    if (req === undefined) { this.emit('error', error); return }
    if (req.kind === 'subscribe' && msg.code === 'SEQ_EXPIRED' && req.message.since !== undefined) {
      // The events after `since` are gone: take the VM from now on and report the hole.
      req.gapSince = req.message.since
      const { since: _dropped, ...fresh } = req.message
      req.message = fresh
      this.send(req)
      return
    }
    this.requests.settle(req)
    if (req.kind === 'subscribe') this.subs.delete(req.vm)
    req.reject(error)
  }
}

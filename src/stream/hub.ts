// Every stream socket of one server: it opens sessions, runs the one heartbeat timer for
// all of them, and ends them at shutdown. The controller registry lives here because the
// "one controller per VM" rule spans sockets.
import type { Control } from '../control/index.js'
import type { Principal } from '../auth/index.js'
import { ControllerRegistry } from './controllers.js'
import { AnswerPoll } from './poll.js'
import { ObserverGroups } from './observer-groups.js'
import type { StreamOptions } from './options.js'
import { CLOSE, Session } from './session.js'
import type { StreamLogger, StreamSocket } from './session.js'
import type { RawTransport } from './wire.js'

/** A ws WebSocket as the hub wires it: the session's needs plus its events. */
export interface HubSocket extends StreamSocket {
  on (event: 'message', fn: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown
  on (event: 'pong' | 'close', fn: () => void): unknown
}

export interface StreamStats {
  sockets: number
  subscriptions: number
  controllers: number
  /** Sockets closed with 1013 because they fell behind, since start. */
  slowClosed: number
  /** Sockets terminated because they stopped answering pings, since start. */
  deadTerminated: number
}

/** How long a socket has to answer the close frame at shutdown before it is terminated. */
const CLOSE_GRACE_MS = 2000
/**
 * The batch period grows by this much per observing socket waiting for it, so that all
 * observers together get at most about 10,000 writes a second: with a thousand observers a
 * batch waits 100 ms instead of 5, and each write (and each read on the other side) carries
 * twenty times the frames, leaving the CPU to the controllers. (0.05 ms, 20,000 writes a
 * second, left the 1,000-observer run's controller at 2.2-3.0x its round trip without
 * them; 0.1 ms at 1.9-2.0x; 0.2 ms at 1.6-1.8x but a fifth of a second behind.)
 */
const FLUSH_MS_PER_SOCKET = 0.1

/** How long observing sockets' frames wait for their batch, with `waiting` sockets waiting. */
export function observerBatchMs (minMs: number, waiting: number): number {
  return Math.max(minMs, waiting * FLUSH_MS_PER_SOCKET)
}

export class StreamHub {
  readonly controllers = new ControllerRegistry<Session>()
  private readonly sessions = new Set<Session>()
  /** Every socket until its TCP connection is gone (a closed session's socket may still be closing). */
  private readonly liveSockets = new Set<HubSocket>()
  /** Set while close() waits for the last socket to go. */
  private onLastSocket: (() => void) | undefined
  /** Open sessions per principal id, for FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN. */
  private readonly perToken = new Map<string, number>()
  private readonly timer: NodeJS.Timeout | undefined
  private slowClosed = 0
  private deadTerminated = 0
  /** Observing sessions with frames batched, flushed together by one timer. */
  private readonly flushQueue = new Set<Session>()
  private flushTimer: NodeJS.Timeout | undefined
  /** Polls for a controller's answer after its frames went out (poll.ts). */
  private readonly poll: AnswerPoll
  /** Observing sockets of each VM, sharing its events and batches. */
  private readonly groups: ObserverGroups

  constructor (
    private readonly control: Control,
    readonly options: StreamOptions,
    private readonly logger?: StreamLogger
  ) {
    this.poll = new AnswerPoll(options.pollUs)
    this.groups = new ObserverGroups(control, this.armFlush, options.maxBufferedBytes)
    if (options.heartbeatMs > 0) {
      this.timer = setInterval(() => { this.heartbeat() }, options.heartbeatMs)
      // The server's own lifetime is decided by listen/close, not by this timer.
      this.timer.unref()
    }
  }

  /** Whether the principal may open another stream socket (routes/stream.ts asks before the upgrade). */
  admits (principal: Principal): boolean {
    return (this.perToken.get(principal.id) ?? 0) < this.options.maxSocketsPerToken
  }

  /**
   * Wires a freshly upgraded, authenticated socket and greets it; `raw` as in Session;
   * `logger` the upgrade request's (its lines carry the request id), else the hub's. A
   * socket over the token's limit (upgrades that raced past admits()) is closed with 1008.
   */
  open (socket: HubSocket, principal: Principal, raw?: RawTransport, logger?: StreamLogger): Session | undefined {
    this.liveSockets.add(socket)
    socket.on('close', () => {
      this.liveSockets.delete(socket)
      if (this.liveSockets.size === 0) this.onLastSocket?.()
    })
    if (!this.admits(principal)) {
      socket.close(CLOSE.POLICY, `this token has ${this.options.maxSocketsPerToken} stream sockets open already`)
      return undefined
    }
    this.perToken.set(principal.id, (this.perToken.get(principal.id) ?? 0) + 1)
    const s = new Session(socket, principal, {
      control: this.control,
      controllers: this.controllers,
      options: this.options,
      logger: logger ?? this.logger,
      onDetach: (x) => {
        this.sessions.delete(x)
        this.flushQueue.delete(x)
        const n = (this.perToken.get(principal.id) ?? 1) - 1
        if (n === 0) this.perToken.delete(principal.id)
        else this.perToken.set(principal.id, n)
      },
      onSlow: () => { this.slowClosed++ },
      scheduleFlush: this.scheduleFlush,
      afterWrite: this.sentToController,
      groups: this.groups
    }, raw)
    this.sessions.add(s)
    socket.on('message', (data, isBinary) => { this.poll.heard(); s.onFrame(data, isBinary) })
    socket.on('pong', () => { s.onPong() })
    socket.on('close', () => { s.onClose() })
    s.start()
    return s
  }

  stats (): StreamStats {
    let subscriptions = 0
    for (const s of this.sessions) subscriptions += s.subscriptionCount
    return {
      sockets: this.sessions.size,
      subscriptions,
      controllers: this.controllers.size,
      slowClosed: this.slowClosed,
      deadTerminated: this.deadTerminated
    }
  }

  /**
   * Stops the timers and closes every socket with 1001 (going away); resolves when they are
   * all gone. A peer that does not answer the close frame within `graceMs` is terminated:
   * otherwise ws would wait 30 s for it, and shutdown with it.
   */
  async close (graceMs = CLOSE_GRACE_MS): Promise<void> {
    clearInterval(this.timer)
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    for (const s of [...this.sessions]) s.end(CLOSE.GOING_AWAY, 'server shutting down')
    if (this.liveSockets.size === 0) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => {
        for (const socket of this.liveSockets) socket.terminate()
        resolve()
      }, graceMs)
      this.onLastSocket = () => { clearTimeout(timer); resolve() }
    })
  }

  private readonly sentToController = (): void => { this.poll.sent() }

  /** Observing sessions that had a batch at the last flush: how many will likely wait for the next. */
  private lastFlushed = 0

  private readonly scheduleFlush = (s: Session): void => {
    this.flushQueue.add(s)
    this.armFlush()
  }

  private readonly armFlush = (): void => {
    if (this.flushTimer !== undefined) return
    const waiting = Math.max(this.flushQueue.size + this.groups.waiting, this.lastFlushed)
    this.flushTimer = setTimeout(this.flushAll, observerBatchMs(this.options.observerFlushMs, waiting))
    this.flushTimer.unref()
  }

  /**
   * Writes every waiting batch: each socket's own first, then the observer groups' (a
   * socket's own batch holds what came before: a replay, a share of a group it left).
   * Sockets whose own batches hold the very same frame Buffers in the same order get one
   * concatenation (found by the first frame, then checked whole).
   */
  private readonly flushAll = (): void => {
    this.flushTimer = undefined
    const due = [...this.flushQueue]
    this.flushQueue.clear()
    this.lastFlushed = this.groups.waiting
    const made = new Map<Buffer, { frames: Buffer[], batch: Buffer }>()
    for (const s of due) {
      const frames = s.takeBatch()
      if (frames === undefined) continue
      this.lastFlushed++
      const head = frames[0] as Buffer
      let m = made.get(head)
      if (m === undefined || !sameFrames(frames, m.frames)) {
        m = { frames, batch: frames.length === 1 ? head : Buffer.concat(frames) }
        made.set(head, m)
      }
      s.writeBatch(m.batch)
    }
    this.groups.flush()
  }

  private heartbeat (): void {
    for (const s of [...this.sessions]) {
      if (!s.alive) this.deadTerminated++
      s.heartbeat()
    }
  }
}

function sameFrames (a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

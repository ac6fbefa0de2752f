// How one stream socket's frames are written, chosen once when the socket opens.
//
// - RawOutbox: with no extension negotiated (no permessage-deflate) every frame is the same
//   bytes for every client, so an event's frame is built once (wire.ts) and written straight
//   to the TCP socket. A socket that controls a VM gets each frame at once, held until the
//   end of the event-loop turn (setImmediate), so that the `decided` frames of one TCP read's
//   decisions and the exits of the scheduler's next tick leave in one syscall; a socket that only
//   observes gets its frames in batches every observerFlushMs, one write per batch.
//   What a turn holds is kept as the events' JSON text and encoded once, at the release,
//   straight into the one Buffer written: no Buffer per frame, no concatenation.
//   While the socket's tenant has vCPUs waiting for the CPU (the scheduler yielded with more
//   to run), its frames are held for up to HOLD_MS since its last write: those vCPUs wait for
//   the server, not for the client, and each write costs the server about as much as
//   running a few exits (a syscall, and on a VM waking the reader). Without a backlog (one
//   vCPU waiting for its decision, a victim beside a busy tenant) frames leave at the turn's end.
// - WsOutbox: through ws.send, when an extension was negotiated (or for a test's fake socket).
//
// Flow control is the same for both: sends never wait, and a socket whose unsent bytes pass
// the limit is reported (the session closes it with 1013).
import { performance } from 'node:perf_hooks'
import type { ControlEvent } from '../control/index.js'
import { eventBytes, eventFrame } from './frames.js'
import { frameLength, framesOf } from './wire.js'
import type { RawTransport } from './wire.js'

/** The part of a ws WebSocket an outbox writes to (a fake in unit tests). */
export interface OutboxSocket {
  readonly readyState: number
  readonly bufferedAmount: number
  send (data: Buffer | string, options: { binary: boolean }): void
}

export interface OutboxContext {
  /** Bytes a socket may have queued and unsent. */
  maxBufferedBytes: number
  /** Batching period for an observing socket; 0 sends each frame at once. */
  observerFlushMs: number
  /** Whether the socket only observes now (its frames may wait for a batch). */
  observing: () => boolean
  /** Asks for takeBatch()/writeBatch() in observerFlushMs (the hub batches these). */
  scheduleFlush?: (() => void) | undefined
  /** The socket fell too far behind: the session closes it. */
  onOverflow: (buffered: number) => void
  /** Called right before frames leave for the socket: the store commits what they tell. */
  beforeWrite?: (() => void) | undefined
  /**
   * Runs `fn` once everything produced so far is committed (the store groups the commits of
   * a whole event-loop iteration); held frames are released by it. Default: the end of the turn.
   */
  afterCommit?: ((fn: () => void) => void) | undefined
  /** Whether the socket's tenant has vCPUs waiting for the CPU now (Scheduler.backlogged). */
  backlogged?: (() => boolean) | undefined
  /** The clock HOLD_MS is measured on, ms (performance.now(); a fake one in tests). */
  now?: (() => number) | undefined
  /** Called after frames were written to a socket that controls a VM (its events, or a reply): an answer may follow soon. */
  afterWrite?: (() => void) | undefined
}

/**
 * How long a controlling socket's frames may wait while its tenant's vCPUs wait for the CPU,
 * ms since its last write. Measured on the 1,000-VM run (npm run bench -- scale) with a
 * prototype that held every release so: 0.5 ms, +10% exits/s; 2 ms, +22%; 4 and 8 ms, no
 * more. Held this way, only while the tenant is backlogged: 2 ms, +22-30%.
 */
export const HOLD_MS = 2
const clock = (): number => performance.now()

export interface Outbox {
  /** A reply or a frame about the socket itself (hello, ack, error...): goes now, after what is batched. */
  reply (text: string): void
  /** A VM's event. */
  event (e: ControlEvent): void
  /** Writes what is batched now. */
  flush (): void
  /** Writes everything now, held frames too, committed first: the socket is about to close. */
  drain (): void
  /** The batched frames, handed over (the hub may write one concatenation to many sockets). */
  takeBatch (): Buffer[] | undefined
  writeBatch (batch: Buffer): void
  /** Whether takeBatch()/writeBatch()/pend() work (not through ws.send). */
  readonly batches: boolean
  /** Frames already made (an observer group's share), batched as events are. */
  pend (frames: Buffer[]): void
  /** Forgets what is batched (the socket is closing). */
  clear (): void
}

const OPEN = 1
const TEXT = { binary: false } as const

export function createOutbox (socket: OutboxSocket, ctx: OutboxContext, raw?: RawTransport): Outbox {
  return raw === undefined ? new WsOutbox(socket, ctx) : new RawOutbox(socket, raw, ctx)
}

class WsOutbox implements Outbox {
  constructor (private readonly socket: OutboxSocket, private readonly ctx: OutboxContext) {}

  reply (text: string): void { this.send(Buffer.from(text, 'utf8')) }
  event (e: ControlEvent): void { this.send(eventBytes(e)) }
  flush (): void {}
  drain (): void {}
  takeBatch (): undefined { return undefined }
  writeBatch (): void {}
  readonly batches = false
  pend (): void {}
  clear (): void {}

  private send (payload: Buffer): void {
    if (this.socket.readyState !== OPEN) return
    this.ctx.beforeWrite?.()
    this.socket.send(payload, TEXT)
    if (!this.ctx.observing()) this.ctx.afterWrite?.()
    const buffered = this.socket.bufferedAmount
    if (buffered > this.ctx.maxBufferedBytes) this.ctx.onOverflow(buffered)
  }
}

/**
 * Every byte of a RawOutbox reaches the kernel through release() (the end of a turn)
 * or writeBatch() (an observer's batch): whatever must happen before frames leave (a store
 * commit) belongs in those two.
 */
class RawOutbox implements Outbox {
  /** Frames of an observing socket waiting for the next batch. */
  private pending: Buffer[] = []
  private pendingBytes = 0
  private flushQueued = false
  /**
   * What is held until the end of the turn (and its commit), written then as one chunk:
   * JSON texts to frame, or frames already made (an observer's batch); undefined when
   * nothing is. `heldPayload` has each text's UTF-8 length; `heldBytes` counts whole frames.
   */
  private held: Array<string | Buffer> | undefined
  private heldPayload: number[] = []
  private heldBytes = 0
  /** When held frames last left (performance.now()). */
  private lastRelease = -Infinity

  constructor (private readonly socket: OutboxSocket, private readonly raw: RawTransport, private readonly ctx: OutboxContext) {}

  reply (text: string): void { this.write(text, true) }
  event (e: ControlEvent): void { this.write(e, false) }

  flush (): void {
    const frames = this.takeBatch()
    if (frames !== undefined) this.writeBatch(frames.length === 1 ? frames[0] as Buffer : Buffer.concat(frames))
  }

  drain (): void {
    this.flush()
    this.writeHeld()
  }

  takeBatch (): Buffer[] | undefined {
    this.flushQueued = false
    if (this.pending.length === 0) return undefined
    const frames = this.pending
    this.clear()
    return frames
  }

  writeBatch (batch: Buffer): void {
    if (this.socket.readyState !== OPEN) return
    // Held frames go at the release, after their commit; a batch joins them so that the
    // socket's order never changes. Otherwise the commit comes right before the bytes go.
    if (this.held !== undefined) { this.hold(batch, batch.length, batch.length); return }
    this.ctx.beforeWrite?.()
    this.raw.write(batch)
    this.checkBuffer()
  }

  readonly batches = true

  pend (frames: Buffer[]): void {
    if (this.socket.readyState !== OPEN) return
    for (const f of frames) {
      this.pending.push(f)
      this.pendingBytes += f.length
    }
    if (!this.flushQueued && this.ctx.scheduleFlush !== undefined) { this.flushQueued = true; this.ctx.scheduleFlush() }
    if (this.pendingBytes > this.ctx.maxBufferedBytes) this.checkBuffer()
  }

  clear (): void {
    this.pending = []
    this.pendingBytes = 0
  }

  /** An event to an observing socket waits for the next batch; the rest goes at the end of the turn, after the batch. */
  private write (item: string | ControlEvent, urgent: boolean): void {
    if (this.socket.readyState !== OPEN) return
    const ctx = this.ctx
    if (!urgent && ctx.observerFlushMs > 0 && ctx.scheduleFlush !== undefined && ctx.observing()) {
      // Observers of a VM share its frames (made once, frames.ts) and batches (the hub).
      const frame = eventFrame(item as ControlEvent)
      this.pending.push(frame)
      this.pendingBytes += frame.length
      if (!this.flushQueued) { this.flushQueued = true; ctx.scheduleFlush() }
      // The socket's own buffer is checked when the batch is written; this is the hot path.
      if (this.pendingBytes > ctx.maxBufferedBytes) this.checkBuffer()
      return
    }
    if (this.held === undefined) {
      this.held = []
      if (ctx.afterCommit === undefined) process.nextTick(this.releaseAtTurnEnd)
      else ctx.afterCommit(this.release)
    }
    // What was batched goes first, so the socket's order never changes.
    if (this.pending.length > 0) this.flush()
    const text = typeof item === 'string' ? item : item.frame
    const n = Buffer.byteLength(text, 'utf8')
    this.hold(text, n, frameLength(n))
  }

  private hold (item: string | Buffer, payload: number, bytes: number): void {
    (this.held as Array<string | Buffer>).push(item)
    this.heldPayload.push(payload)
    this.heldBytes += bytes
    if (this.heldBytes + this.socket.bufferedAmount > this.ctx.maxBufferedBytes) this.checkBuffer()
  }

  /**
   * Queued from a tick rather than at once, so that a scheduler tick woken by the same
   * callback (a decision read from the socket) is queued first: the vCPU's next exit then
   * joins its `decided` frame in one write, with no extra turn of the loop.
   */
  private readonly releaseAtTurnEnd = (): void => { setImmediate(this.release) }

  /**
   * The end of the turn: what the turn held leaves, unless the tenant's vCPUs are waiting
   * for the CPU and the last write was less than HOLD_MS ago; then it is looked at again
   * at the end of the next turn (the scheduler keeps the loop turning while they wait).
   */
  private readonly release = (): void => {
    if (this.held === undefined) return
    const ctx = this.ctx
    if (ctx.backlogged?.() === true && (ctx.now ?? clock)() - this.lastRelease < HOLD_MS) {
      if (ctx.afterCommit === undefined) setImmediate(this.release)
      else ctx.afterCommit(this.release)
      return
    }
    this.writeHeld()
  }

  /**
   * What is held leaves as one chunk, in one syscall (one Buffer costs less than the
   * stream's bookkeeping of a chunk per frame).
   */
  private writeHeld (): void {
    const held = this.held
    if (held === undefined) return
    const payload = this.heldPayload
    this.held = undefined
    this.heldPayload = []
    const bytes = this.heldBytes
    this.heldBytes = 0
    // A socket closed meanwhile gets nothing more (its VM's events stay in the journal).
    if (this.socket.readyState !== OPEN) return
    // Held frames are still in this process: they leave only once committed.
    this.ctx.beforeWrite?.()
    this.raw.write(framesOf(held, payload, bytes))
    this.lastRelease = (this.ctx.now ?? clock)()
    if (!this.ctx.observing()) this.ctx.afterWrite?.()
    this.checkBuffer()
  }

  private checkBuffer (): void {
    const buffered = this.pendingBytes + this.heldBytes + this.socket.bufferedAmount
    if (buffered > this.ctx.maxBufferedBytes) this.ctx.onOverflow(buffered)
  }
}

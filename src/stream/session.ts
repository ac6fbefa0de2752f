// One client socket of GET /v1/stream: its subscriptions, its controller roles, and the
// ordering and flow-control rules of docs/spec/api-v1.md.
//
// Ordering: control/ publishes each VM's events synchronously and in seq order, and every
// step of a subscribe (bus subscription, replay, pending exits, frames written) happens in
// one synchronous block, so no live event can fall between the replay and the live feed.
// A per-VM high-water mark of the seq written to this socket then makes each event go out
// at most once even when two subscriptions ("*" and the VM itself) both carry it.
//
// Flow control: sends never wait. A socket whose unsent bytes pass the limit is closed
// with 1013 and detached at once, so a slow reader costs at most its buffer. How frames
// are written (straight to TCP, batched for observers, or through ws) is outbox.ts's.
import type { ErrorCode } from '../../schemas/errors.js'
import type { Control, ControlEvent, EventFilter } from '../control/index.js'
import type { Principal } from '../auth/index.js'
import { canControl } from '../auth/index.js'
import { errorCode } from '../errors.js'
import type { ControllerRegistry } from './controllers.js'
import { ackFrame, errorFrame, helloFrame, revokedFrame, subscribedFrame } from './frames.js'
import type { ErrorFields, Role } from './frames.js'
import { parseClientMessage } from './messages.js'
import type { DecisionMessage, SubscribeMessage, UnsubscribeMessage } from './messages.js'
import type { StreamOptions } from './options.js'
import { createOutbox } from './outbox.js'
import type { Outbox, OutboxSocket } from './outbox.js'
import type { RawTransport } from './wire.js'
import type { GroupMember, ObserverGroups } from './observer-groups.js'

/** The part of a ws WebSocket a session uses (a fake in unit tests). */
export interface StreamSocket extends OutboxSocket {
  close (code: number, reason: string): void
  terminate (): void
  ping (): void
}

export interface StreamLogger {
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

export interface SessionContext {
  control: Control
  controllers: ControllerRegistry<Session>
  options: StreamOptions
  logger?: StreamLogger | undefined
  /** Called once when the session ends, for the hub's bookkeeping. */
  onDetach?: (s: Session) => void
  /** Called when the session is closed for falling behind (1013). */
  onSlow?: (s: Session) => void
  /** Asks for flush() to be called in observerFlushMs (the hub batches these). */
  scheduleFlush?: (s: Session) => void
  /** Called after frames went to this socket while it controls a VM (the hub's answer poll). */
  afterWrite?: () => void
  /** Where a socket that only observes joins its VMs' observers (observer-groups.ts). */
  groups?: ObserverGroups
}

/** WebSocket close codes the stream uses (RFC 6455 section 7.4.1 and the IANA registry). */
export const CLOSE = {
  /** The server is shutting down. */
  GOING_AWAY: 1001,
  /** Refused by policy: over the token's socket limit. */
  POLICY: 1008,
  /** A frame over the size limit (ws closes with it itself). */
  TOO_BIG: 1009,
  /** "Try again later": this socket fell too far behind; come back with `since`. */
  TRY_AGAIN_LATER: 1013
} as const

const OPEN = 1
const ALL_VMS = '*'

interface Subscription {
  role: Role
  unsubscribe: () => void
  /** Delivered through the VM's observer group rather than this socket's own bus listener. */
  grouped: boolean
}

const NOTHING = (): void => {}

export class Session {
  /** Cleared at each ping, set by the pong (or any frame) that shows the peer is alive. */
  alive = true
  private detached = false
  private readonly subs = new Map<string, Subscription>()
  /** Per VM, the highest seq written to this socket. */
  private readonly sent = new Map<string, number>()
  /** How many of the subscriptions are controller roles. */
  private controls = 0
  private readonly outbox: Outbox
  /** Set once the socket is being closed for falling behind: nothing more is queued for it. */
  private tooFarBehind = false
  /** This socket as a member of its VMs' observer groups. */
  private readonly member: GroupMember = {
    takeShare: (vm, frames, lastSeq) => { this.markSent(vm, lastSeq); if (!this.detached && !this.tooFarBehind) this.outbox.pend(frames) },
    writeGroupBatch: (vm, batch, lastSeq) => { this.markSent(vm, lastSeq); if (!this.detached) this.outbox.writeBatch(batch) },
    groupVmDeleted: (vm) => { this.forget(vm) }
  }

  /** `raw`: the socket under `socket`, when frames may be written to it directly (wire.ts). */
  constructor (
    private readonly socket: StreamSocket,
    readonly principal: Principal,
    private readonly ctx: SessionContext,
    raw?: RawTransport
  ) {
    const scheduleFlush = ctx.scheduleFlush
    this.outbox = createOutbox(socket, {
      maxBufferedBytes: ctx.options.maxBufferedBytes,
      observerFlushMs: ctx.options.observerFlushMs,
      observing: () => this.controls === 0,
      scheduleFlush: scheduleFlush === undefined ? undefined : () => { scheduleFlush(this) },
      onOverflow: (buffered) => { this.tooSlow(buffered) },
      beforeWrite: ctx.control.commit,
      afterCommit: ctx.control.afterCommit,
      backlogged: () => ctx.control.backlogged(principal.tenant),
      afterWrite: ctx.afterWrite
    }, raw)
  }

  /** Sends `hello`: the first frame on every socket. */
  start (): void {
    this.write(helloFrame(this.ctx.options.version))
  }

  get subscriptionCount (): number { return this.subs.size }
  get isDetached (): boolean { return this.detached }

  // ---- socket events ----------------------------------------------------------------------

  onFrame (data: Buffer | ArrayBuffer | Buffer[], binary: boolean): void {
    this.alive = true
    if (this.detached) return
    const p = parseClientMessage(data, binary)
    if (!p.ok) { this.error('BAD_MESSAGE', p.reason, { id: p.id }); return }
    const m = p.message
    try {
      switch (m.type) {
        case 'subscribe': this.subscribe(m); break
        case 'unsubscribe': this.unsubscribe(m); break
        case 'decision': this.decide(m); break
      }
    } catch (err) {
      // Every expected refusal is answered inside the handlers; this is a bug, kept per-socket.
      this.ctx.logger?.error({ err, type: m.type }, 'stream message failed')
      this.error('INTERNAL', 'internal error', { id: m.id, vm: m.vm })
    }
  }

  onPong (): void { this.alive = true }

  /** The socket closed (either side): drop every subscription and controller role. */
  onClose (): void { this.detach() }

  /** One heartbeat: a peer that did not answer the previous ping is gone. */
  heartbeat (): void {
    if (this.detached) return
    if (!this.alive) {
      this.detach()
      this.socket.terminate()
      return
    }
    this.alive = false
    if (this.socket.readyState === OPEN) this.socket.ping()
  }

  /** Ends the session from the server side, with a close frame after what is queued. */
  end (code: number, reason: string): void {
    if (this.detached) return
    // What the observer groups hold for this socket joins its own batch, written below.
    this.leaveGroups()
    // Held frames too: once the close frame is out, nothing more may follow it.
    this.outbox.drain()
    this.detach()
    if (this.socket.readyState === OPEN) this.socket.close(code, reason)
  }

  /** Writes the frames batched for an observing socket. */
  flush (): void { if (!this.detached) this.outbox.flush() }

  /** The batched frames, handed over (the hub may write one concatenation to many sockets). */
  takeBatch (): Buffer[] | undefined { return this.outbox.takeBatch() }

  writeBatch (batch: Buffer): void { if (!this.detached) this.outbox.writeBatch(batch) }

  /** Another socket took this VM over: this one is told and stops receiving it. */
  revoke (vm: string): void {
    const sub = this.subs.get(vm)
    if (sub === undefined) return
    this.drop(vm, sub)
    this.write(revokedFrame(vm))
  }

  // ---- messages ---------------------------------------------------------------------------

  private subscribe (m: SubscribeMessage): void {
    const { control, controllers, options } = this.ctx
    const { id, vm, role } = m
    const f: ErrorFields = { id, vm }
    if (role === 'controller' && vm === ALL_VMS) { this.error('BAD_MESSAGE', '"*" is for observers: subscribe as controller to one VM at a time', f); return }
    // Before any lookup, so that the answer says nothing about which VMs exist.
    if (role === 'controller' && !canControl(this.principal)) { this.error('FORBIDDEN', 'this token may not control VMs (observer role)', f); return }
    const existing = this.subs.get(vm)
    if (existing === undefined && this.subs.size >= options.maxSubscriptions) {
      this.error('LIMIT_EXCEEDED', `a socket may hold ${options.maxSubscriptions} subscriptions`, f)
      return
    }
    if (vm === ALL_VMS) { this.subscribeAll(m, existing); return }

    // Everything that can fail is asked before anything changes.
    let seq: number
    let replay: ControlEvent[] | undefined
    let pending: ControlEvent[] = []
    try {
      seq = control.currentSeq(this.principal, vm)
      if (m.since !== undefined) replay = control.replay(this.principal, vm, m.since)
      if (role === 'controller') pending = control.pendingExitEvents(this.principal, vm)
    } catch (err) {
      this.error(errorCode(err), (err as Error).message, f)
      return
    }
    if (role === 'controller') {
      const claim = controllers.claim(vm, this, m.takeover === true)
      if (!claim.ok) { this.error('CONFLICT', `VM ${vm} already has a controller; subscribe with "takeover": true to take it`, f); return }
      claim.revoked?.revoke(vm)
      if (existing?.role !== 'controller') {
        // A controlling socket gets every event as it comes, not in batches.
        this.ungroup()
        this.controls++
      }
    } else if (existing?.role === 'controller') {
      // Asking to observe a VM this socket controls gives the role up.
      controllers.release(vm, this)
      this.controls--
    }
    const groups = this.ctx.groups
    if (existing === undefined) {
      if (role === 'observer' && groups !== undefined && this.canGroup()) {
        this.subs.set(vm, { role, grouped: true, unsubscribe: groups.join(vm, this.member) })
      } else {
        this.subs.set(vm, { role, grouped: false, unsubscribe: control.subscribe({ vm }, this.onEvent) })
      }
    } else {
      if (existing.grouped && groups !== undefined) {
        // Settled first: the mark must count what the group holds for this socket, or the
        // replay below would send it again.
        existing.unsubscribe()
        existing.unsubscribe = groups.join(vm, this.member)
      }
      existing.role = role
    }

    this.write(subscribedFrame(id, vm, role, seq))
    // What this socket was already sent of the VM (through "*", or before an unsubscribe)
    // is not sent again, except that a controller always gets every pending exit (the
    // contract's redelivery) right after `subscribed`; those do not move the mark.
    const had = this.sent.get(vm) ?? 0
    const from = m.since === undefined ? seq : Math.max(m.since, had)
    for (const e of pending) if (e.seq <= from) this.sendEvent(e)
    if (replay !== undefined) for (const e of replay) if (e.seq > from) this.onEvent(e)
    if (id !== undefined) this.write(ackFrame(id, { vm, role, seq }))
  }

  private subscribeAll (m: SubscribeMessage, existing: Subscription | undefined): void {
    const { id } = m
    if (m.since !== undefined) { this.error('BAD_MESSAGE', '"since" needs one VM: "*" starts from now (subscribe to a VM with since to replay it)', { id, vm: ALL_VMS }); return }
    if (existing === undefined) {
      // "*" and a VM's group would both carry the VM's events: the marks of this socket's own
      // listener keep them from coming twice, so its VMs leave their groups first.
      this.ungroup()
      // An admin's "*" is every tenant; anyone else's is their own tenant, present and future.
      const filter: EventFilter = this.principal.role === 'admin' ? { all: true } : { tenant: this.principal.tenant }
      this.subs.set(ALL_VMS, { role: 'observer', grouped: false, unsubscribe: this.ctx.control.subscribe(filter, this.onEvent) })
    }
    this.write(subscribedFrame(id, ALL_VMS, 'observer', 0))
    if (id !== undefined) this.write(ackFrame(id, { vm: ALL_VMS, role: 'observer', seq: 0 }))
  }

  private unsubscribe (m: UnsubscribeMessage): void {
    const sub = this.subs.get(m.vm)
    // Unsubscribing from something not subscribed is already done: acknowledged, no error.
    if (sub !== undefined) this.drop(m.vm, sub)
    if (m.id !== undefined) this.write(ackFrame(m.id, { vm: m.vm }))
  }

  private decide (m: DecisionMessage): void {
    const { control, controllers } = this.ctx
    const { id, vm, exit } = m
    const f: ErrorFields = { id, vm, exit }
    if (controllers.holder(vm) !== this) {
      // A VM the caller cannot see is VM_NOT_FOUND here too, never a hint that it exists.
      if (!control.vmExists(this.principal, vm)) this.error('VM_NOT_FOUND', `no VM ${vm}`, f)
      else this.error('NOT_CONTROLLER', `this socket is not the controller of VM ${vm}`, f)
      return
    }
    // The decision's own fields, as sent: control refuses those that mean nothing for the action.
    const { type: _type, id: _id, vm: _vm, exit: _exit, ...input } = m
    try {
      // Publishes `decided` to every subscriber (this socket too) before it returns.
      control.apply(this.principal, vm, exit, input, 'controller')
    } catch (err) {
      this.error(errorCode(err), (err as Error).message, f)
      return
    }
    if (id !== undefined) this.write(ackFrame(id, { vm, exit, action: m.action }))
  }

  // ---- events and sends -------------------------------------------------------------------

  /** The bus listener of every subscription of this socket (and the replay's writer). */
  private readonly onEvent = (e: ControlEvent): void => {
    const had = this.sent.get(e.vm)
    if (had !== undefined && e.seq <= had) return
    this.sent.set(e.vm, e.seq)
    this.sendEvent(e)
    if (e.deleted === true) this.forget(e.vm)
  }

  /** A deleted VM: its subscription and controller role go, and so does its mark ("*" stays). */
  private forget (vm: string): void {
    const sub = this.subs.get(vm)
    if (sub !== undefined) this.drop(vm, sub)
    // After this publish: "*" may still carry the same event, which the mark must stop.
    queueMicrotask(() => { this.sent.delete(vm) })
  }

  private drop (vm: string, sub: Subscription): void {
    sub.unsubscribe()
    this.subs.delete(vm)
    if (sub.role === 'controller') { this.ctx.controllers.release(vm, this); this.controls-- }
    // The high-water mark stays: what this socket was sent is never sent again, so seq
    // only goes up on a socket even across unsubscribe and a later subscribe with since.
  }

  private detach (): void {
    if (this.detached) return
    this.detached = true
    for (const [vm, sub] of this.subs) {
      sub.unsubscribe()
      if (sub.role === 'controller') this.ctx.controllers.release(vm, this)
    }
    this.subs.clear()
    this.sent.clear()
    this.controls = 0
    this.outbox.clear()
    this.ctx.onDetach?.(this)
  }

  private error (code: ErrorCode, message: string, f: ErrorFields): void {
    this.write(errorFrame(code, message, f))
  }

  private write (text: string): void {
    if (!this.detached) this.outbox.reply(text)
  }

  private sendEvent (e: ControlEvent): void {
    if (!this.detached) this.outbox.event(e)
  }

  // ---- observer groups --------------------------------------------------------------------

  /** Whether a new observer subscription may go through its VM's group (the socket only observes, in batches, and has no "*"). */
  private canGroup (): boolean {
    return this.outbox.batches && this.ctx.options.observerFlushMs > 0 && this.controls === 0 && !this.subs.has(ALL_VMS)
  }

  private markSent (vm: string, seq: number): void {
    if ((this.sent.get(vm) ?? 0) < seq) this.sent.set(vm, seq)
  }

  /** Every grouped subscription moves to this socket's own listener (its share of each batch first). */
  private ungroup (): void {
    for (const [vm, sub] of this.subs) {
      if (!sub.grouped) continue
      sub.unsubscribe()
      sub.unsubscribe = this.ctx.control.subscribe({ vm }, this.onEvent)
      sub.grouped = false
    }
  }

  /** Leaves every group, its share of each batch joining this socket's own (the socket is ending). */
  private leaveGroups (): void {
    for (const sub of this.subs.values()) {
      if (!sub.grouped) continue
      sub.unsubscribe()
      sub.unsubscribe = NOTHING
      sub.grouped = false
    }
  }

  /** Too far behind: stop feeding it now; the close frame queues behind what it has. */
  private tooSlow (buffered: number): void {
    if (this.tooFarBehind) return
    this.tooFarBehind = true
    // Nothing more goes to it: what its groups hold for it is dropped with its own batch.
    this.leaveGroups()
    this.outbox.clear()
    this.ctx.onSlow?.(this)
    this.ctx.logger?.warn({ principal: this.principal.id, buffered, limit: this.ctx.options.maxBufferedBytes }, 'stream client too slow, closing with 1013')
    this.end(CLOSE.TRY_AGAIN_LATER, 'too slow: resubscribe with since')
  }
}

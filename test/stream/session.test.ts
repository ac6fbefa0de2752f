// The session's rules without a network: a fake socket records what would be sent, and a
// real Control makes the events. State changes (pause/resume) publish synchronously, so a
// property can interleave them with subscribe/unsubscribe at any point.
import t from 'tap'
import fc from 'fast-check'
import { Control } from '../../src/control/index.js'
import type { ControlEvent } from '../../src/control/index.js'
import { ControllerRegistry } from '../../src/stream/controllers.js'
import { streamOptions } from '../../src/stream/options.js'
import { Session } from '../../src/stream/session.js'
import type { SessionContext, StreamSocket } from '../../src/stream/session.js'
import { admin, opA, obsA } from '../control/fixtures.js'
import type { Principal } from '../../src/auth/types.js'

class FakeSocket implements StreamSocket {
  readyState = 1
  bufferedAmount = 0
  readonly sent: Record<string, unknown>[] = []
  closed: [number, string] | undefined
  terminated = false
  pings = 0
  send (data: Buffer | string): void { this.sent.push(JSON.parse(data.toString()) as Record<string, unknown>) }
  close (code: number, reason: string): void { this.closed = [code, reason]; this.readyState = 2 }
  terminate (): void { this.terminated = true; this.readyState = 3 }
  ping (): void { this.pings++ }
  of (type: string): Record<string, unknown>[] { return this.sent.filter(m => m.type === type) }
}

const PAUSE_FOREVER = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }]

function setup (over: Partial<SessionContext> = {}): { control: Control, ctx: SessionContext, open: (p?: Principal) => [Session, FakeSocket] } {
  const control = new Control()
  const ctx: SessionContext = { control, controllers: new ControllerRegistry<Session>(), options: streamOptions({ version: 'test' }), ...over }
  return {
    control,
    ctx,
    open: (p = opA) => {
      const sock = new FakeSocket()
      const s = new Session(sock, p, ctx)
      s.start()
      return [s, sock]
    }
  }
}
const frame = (m: unknown): Buffer => Buffer.from(JSON.stringify(m))
const events = (sock: FakeSocket, vm: string): number[] =>
  sock.sent.filter(m => m.vm === vm && (m.type === 'state' || m.type === 'exit' || m.type === 'decided')).map(m => m.seq as number)

void t.test('per VM, a socket gets every event once, in seq order, whatever the mix of "*", since and unsubscribe', async t => {
  fc.assert(fc.property(
    fc.array(fc.oneof(
      fc.record({ k: fc.constant('sub' as const), vm: fc.constantFrom(0, 1, '*' as const), since: fc.option(fc.nat({ max: 40 }), { nil: undefined }) }),
      fc.record({ k: fc.constant('unsub' as const), vm: fc.constantFrom(0, 1, '*' as const) }),
      fc.record({ k: fc.constant('event' as const), vm: fc.constantFrom(0, 1) })
    ), { maxLength: 60 }),
    (ops) => {
      const { control, open } = setup()
      const vms = [control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: PAUSE_FOREVER }).id,
        control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: PAUSE_FOREVER }).id]
      const paused = [false, false]
      for (const vm of vms) control.act(opA, vm, 'start')
      const [s, sock] = open(obsA)
      const subs = new Set<string>()
      // What the socket must have: every event published while a subscription covered it.
      const must = new Map<string, Set<number>>(vms.map(v => [v, new Set()]))
      control.subscribe({ tenant: 'a' }, (e: ControlEvent) => { if (subs.has(e.vm) || subs.has('*')) must.get(e.vm)?.add(e.seq) })
      for (const op of ops) {
        const vm = op.vm === '*' ? '*' : vms[op.vm] as string
        if (op.k === 'event') {
          const i = op.vm as number
          control.act(opA, vm, paused[i] === true ? 'resume' : 'pause')
          paused[i] = !paused[i]
        } else if (op.k === 'unsub') {
          s.onFrame(frame({ type: 'unsubscribe', vm }), false)
          subs.delete(vm)
        } else {
          const since = op.vm === '*' ? undefined : op.since
          // Seq only goes up on a socket: a replay starts after what it was already sent.
          const had = Math.max(0, ...events(sock, vm))
          s.onFrame(frame({ type: 'subscribe', vm, role: 'observer', ...(since !== undefined ? { since } : {}) }), false)
          subs.add(vm)
          if (since !== undefined) {
            const seq = control.currentSeq(opA, vm)
            for (let q = Math.max(since, had) + 1; q <= seq; q++) must.get(vm)?.add(q)
          }
        }
      }
      for (const vm of vms) {
        const got = events(sock, vm)
        if (!got.every((q, i) => i === 0 || q > (got[i - 1] as number))) throw new Error(`${vm}: not strictly ascending: ${got.join(',')}`)
        const have = new Set(got)
        for (const q of must.get(vm) ?? []) if (!have.has(q)) throw new Error(`${vm}: missed seq ${q}; got ${got.join(',')}`)
      }
      if (sock.of('error').length > 0) throw new Error(JSON.stringify(sock.of('error')))
      control.close()
    }
  ), { numRuns: 300 })
  t.pass('held for every run')
})

void t.test('controller roles: observer↔controller on one socket, a revoked socket, detach releases', async t => {
  const { control, ctx, open } = setup()
  const vm = control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: PAUSE_FOREVER }).id
  const [a, sa] = open()
  const [b, sb] = open()
  a.onFrame(frame({ type: 'subscribe', vm, role: 'observer' }), false)
  a.onFrame(frame({ type: 'subscribe', vm, role: 'controller' }), false)
  t.equal(ctx.controllers.holder(vm), a, 'an observer becomes the controller')
  a.onFrame(frame({ type: 'subscribe', vm, role: 'observer' }), false)
  t.equal(ctx.controllers.holder(vm), undefined, 'and gives the role up by observing')
  b.onFrame(frame({ type: 'subscribe', vm, role: 'controller' }), false)
  a.onFrame(frame({ type: 'subscribe', vm, role: 'controller', takeover: true }), false)
  t.same(sb.of('revoked'), [{ type: 'revoked', vm }])
  t.equal(b.subscriptionCount, 0, 'the revoked socket is unsubscribed')
  b.revoke(vm)
  t.equal(sb.of('revoked').length, 1, 'revoking what it no longer has is a no-op')
  a.onClose()
  t.equal(ctx.controllers.holder(vm), undefined, 'detach releases')
  t.ok(a.isDetached)
  a.onFrame(frame({ type: 'subscribe', vm, role: 'controller' }), false)
  t.equal(ctx.controllers.holder(vm), undefined, 'a detached session ignores frames')
  t.equal(sa.of('error').length, 0)
  control.close()
})

void t.test('a socket past its buffer limit is closed with 1013 and detached at once', async t => {
  let slow = 0
  const { control, ctx, open } = setup({ options: streamOptions({ version: 't', maxBufferedBytes: 1000 }), onSlow: () => { slow++ } })
  const vm = control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: PAUSE_FOREVER }).id
  const [s, sock] = open()
  s.onFrame(frame({ type: 'subscribe', vm, role: 'controller' }), false)
  sock.bufferedAmount = 1001
  control.act(opA, vm, 'start')
  t.same(sock.closed, [1013, 'too slow: resubscribe with since'])
  t.equal(slow, 1)
  t.ok(s.isDetached)
  t.equal(ctx.controllers.holder(vm), undefined, 'its controller role is released')
  const n = sock.sent.length
  control.act(opA, vm, 'pause')
  t.equal(sock.sent.length, n, 'nothing more is queued')
  s.end(1001, 'bye')
  t.same(sock.closed, [1013, 'too slow: resubscribe with since'], 'ending twice does nothing')
  control.close()
})

void t.test('heartbeat: a ping each beat; no pong (and no frame) by the next beat terminates', async t => {
  const { control, ctx, open } = setup()
  const vm = control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: [] }).id
  const [s, sock] = open()
  s.onFrame(frame({ type: 'subscribe', vm, role: 'controller' }), false)
  s.heartbeat()
  t.equal(sock.pings, 1)
  s.onPong()
  s.heartbeat()
  t.equal(sock.pings, 2)
  s.onFrame(frame({ type: 'unsubscribe', vm: 'other' }), false)
  s.heartbeat()
  t.equal(sock.pings, 3, 'any frame counts as alive')
  s.heartbeat()
  t.ok(sock.terminated, 'missed a pong: terminated')
  t.equal(ctx.controllers.holder(vm), undefined)
  s.heartbeat()
  t.equal(sock.pings, 3)
  control.close()
})

void t.test('an unexpected failure is INTERNAL to that request only', async t => {
  const control = new Control()
  const broken = Object.create(control) as Control
  broken.currentSeq = () => { throw new TypeError('boom') }
  const errors: unknown[] = []
  const { open } = setup({ control: broken, logger: { warn () {}, error (o) { errors.push(o) } } })
  const [s, sock] = open(admin)
  s.onFrame(frame({ id: 9, type: 'subscribe', vm: 'vm_x', role: 'observer' }), false)
  t.match(sock.of('error'), [{ id: 9, code: 'INTERNAL', vm: 'vm_x' }], 'a non-faultline error from control')
  const withDecide = Object.create(control) as Control
  withDecide.vmExists = () => { throw new TypeError('boom') }
  const { open: open2 } = setup({ control: withDecide, logger: { warn () {}, error (o) { errors.push(o) } } })
  const [s2, sock2] = open2(admin)
  s2.onFrame(frame({ id: 'd', type: 'decision', vm: 'vm_x', exit: 1, action: 'kill' }), false)
  t.match(sock2.of('error'), [{ id: 'd', code: 'INTERNAL' }], 'a throw outside any handler\'s catch')
  t.equal(errors.length, 1, 'logged')
  t.notOk(s2.isDetached, 'the socket stays')
  control.close()
})

void t.test('a socket that is no longer open is sent nothing', async t => {
  const { control, open } = setup()
  const [s, sock] = open()
  sock.readyState = 3
  s.onFrame(frame({ id: 1, type: 'unsubscribe', vm: 'x' }), false)
  t.equal(sock.sent.length, 1, 'only hello')
  s.end(1001, 'bye')
  t.equal(sock.closed, undefined, 'no close frame on a closed socket')
  control.close()
})

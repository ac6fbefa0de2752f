// GET /v1/stream over real sockets on 127.0.0.1: the contract's WebSocket half and its
// guarantees (docs/spec/api-v1.md), one subtest per guarantee.
import t from 'tap'
import WebSocket from 'ws'
import type { AppSettings } from '../../src/app-types.js'
import type { StreamOptions } from '../../src/stream/options.js'
import { loadConfig } from '../../src/config.js'
import { build, FakeClock, TOKENS } from '../helper.js'
import { Rest } from '../stream/rest.js'
import { listen, stats, until, WsClient } from '../stream/ws-client.js'
import type { Msg } from '../stream/ws-client.js'

const withStream = (stream: Partial<StreamOptions>, more: Partial<AppSettings> = {}): Partial<AppSettings> => ({ ...more, stream })

const isEvent = (vm: string) => (m: Msg): boolean => m.vm === vm && (m.type === 'exit' || m.type === 'decided' || m.type === 'state')

void t.test('an upgrade without a valid token is refused with 401 before any socket opens', async t => {
  const app = await build(t)
  const url = await listen(app)
  await t.rejects(WsClient.open(url, null), /upgrade refused: 401/)
  await t.rejects(WsClient.open(url, 'not-a-known-token-xxxxxxxx'), /upgrade refused: 401/)
  await t.rejects(WsClient.open(url, null, { protocols: ['faultline.v1', 'bearer.not-a-known-token-xx'] }), /upgrade refused: 401/)
  t.equal(stats(app).sockets, 0, 'no session was opened')
})

void t.test('refused upgrades (no token, an unknown one, over the rate limit) leave no socket open: app.close() completes', async t => {
  const app = await build(t, { settings: { rateLimitPerMinute: 1 } })
  const url = await listen(app)
  await t.rejects(WsClient.open(url, null), /upgrade refused: 401/, 'no token')
  await t.rejects(WsClient.open(url, 'not-a-known-token-xxxxxxxx'), /upgrade refused: 401/, 'an unknown token')
  await t.rejects(WsClient.open(url, null, { protocols: ['faultline.v1', 'bearer.not-a-known-token-xx'] }), /upgrade refused: 401/, 'an unknown token as subprotocol')
  await t.rejects(WsClient.open(url, null), /upgrade refused: 401/, 'no token again')
  const ok = await WsClient.open(url, TOKENS.operatorA)
  await ok.close()
  await t.rejects(WsClient.open(url, TOKENS.operatorA), /upgrade refused: 429/, 'over the rate limit')
  // Each refused client above still holds its end open: only the server can close them.
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<string>(resolve => { timer = setTimeout(() => { resolve('still waiting') }, 5000) })
  t.equal(await Promise.race([app.close().then(() => 'closed'), hung]), 'closed', 'app.close() completes')
  clearTimeout(timer)
})

void t.test('an upgrade offering subprotocols without faultline.v1 is refused with 400, the token not echoed', async t => {
  const app = await build(t)
  const url = await listen(app)
  for (const protocols of [[`bearer.${TOKENS.operatorA}`], ['graphql-ws', `bearer.${TOKENS.operatorA}`]]) {
    const err = await WsClient.open(url, null, { protocols }).then(() => null, (e: Error) => e)
    t.match(err?.message, /upgrade refused: 400/, `offered ${protocols.join(', ')}`)
  }
  // The same with a header token: a client offering protocols needs one selected.
  await t.rejects(WsClient.open(url, TOKENS.operatorA, { protocols: ['graphql-ws'] }), /upgrade refused: 400/)
  // The token is checked first: an unknown one is 401 whatever else is offered.
  await t.rejects(WsClient.open(url, null, { protocols: ['bearer.not-a-known-token-xx'] }), /upgrade refused: 401/)
  const r = await app.inject({ method: 'GET', url: '/v1/stream', headers: { 'sec-websocket-protocol': `bearer.${TOKENS.operatorA}` } })
  t.equal(r.statusCode, 400)
  t.equal(r.json().code, 'FAULTLINE_VALIDATION')
  t.match(r.json().message, /faultline\.v1/)
  t.notMatch(r.body, TOKENS.operatorA, 'the token is not echoed')
  t.equal(stats(app).sockets, 0, 'no session was opened')
})

void t.test('the stream takes its limits and timers from the configuration', async t => {
  const { stream } = loadConfig({ FAULTLINE_WS_MAX_SUBSCRIPTIONS: '1', FAULTLINE_WS_OBSERVER_FLUSH_MS: '0' })
  const app = await build(t, { settings: { stream } })
  const url = await listen(app)
  t.match(app.streamHub.options, { maxSubscriptions: 1, observerFlushMs: 0, heartbeatMs: 30_000, version: '0.0.0-test' })
  const rest = new Rest(app, TOKENS.operatorA)
  const [a, b] = [await rest.createVm(), await rest.createVm()]
  const c = await WsClient.open(url, TOKENS.operatorA)
  t.equal((await c.request({ type: 'subscribe', vm: a, role: 'observer' })).type, 'subscribed')
  t.match(await c.request({ type: 'subscribe', vm: b, role: 'observer' }), { type: 'error', code: 'LIMIT_EXCEEDED' })
  await c.close()
})

void t.test('a browser authenticates with subprotocols: faultline.v1 is selected, the token never echoed', async t => {
  const app = await build(t)
  const url = await listen(app)
  for (const protocols of [['faultline.v1', `bearer.${TOKENS.operatorA}`], [`bearer.${TOKENS.operatorA}`, 'faultline.v1']]) {
    const c = await WsClient.open(url, null, { protocols })
    t.equal(c.ws.protocol, 'faultline.v1', `offered ${protocols[0] ?? ''} first`)
    t.same(c.frames[0], { type: 'hello', protocol: 1, server: 'faultline/0.0.0-test' }, 'hello is the first frame')
    await c.close()
  }
})

void t.test('hello comes first; subscribed carries the seq, then the controller gets every pending exit', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ vcpus: 2 })
  await rest.act(vm, 'start')
  // Both vCPUs exit and wait.
  await until(async () => (await rest.vm(vm)).counters.pending === 2, 'two pending exits')
  const seq = (await rest.vm(vm)).seq
  const c = await WsClient.open(url, TOKENS.operatorA)
  t.equal(c.frames[0]?.type, 'hello')
  const sub = await c.request({ id: 's1', type: 'subscribe', vm, role: 'controller' })
  t.same(sub, { type: 'subscribed', id: 's1', vm, role: 'controller', seq })
  const e1 = await c.next(m => m.type === 'exit')
  const e2 = await c.next(m => m.type === 'exit')
  t.same([e1.exit, e2.exit].sort(), [1, 2], 'both pending exits, by id')
  t.ok((e1.seq as number) < (e2.seq as number), 'in seq order')
  const ack = await c.reply('s1')
  t.same(ack, { type: 'ack', id: 's1', vm, role: 'controller', seq }, 'the ack closes the backlog')
  t.ok(c.frames.indexOf(ack) > c.frames.indexOf(e2), 'after the pending exits')
  await c.close()
})

void t.test('a controller that disconnects mid-exit loses nothing: the next controller gets the same exit and decides it once', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm()
  const first = await WsClient.open(url, TOKENS.operatorA)
  await first.request({ type: 'subscribe', vm, role: 'controller' })
  await rest.act(vm, 'start')
  const exit = await first.next(m => m.type === 'exit')
  t.equal(exit.exit, 1)
  // Gone without deciding, and without a close handshake.
  first.ws.terminate()
  await until(() => stats(app).controllers === 0, 'the role to be released')

  const next = await WsClient.open(url, TOKENS.operatorA)
  const observer = await WsClient.open(url, TOKENS.observerA)
  await observer.request({ type: 'subscribe', vm, role: 'observer' })
  t.equal((await next.request({ type: 'subscribe', vm, role: 'controller' })).type, 'subscribed', 'no CONFLICT: the role was released')
  const again = await next.next(m => m.type === 'exit')
  t.same(again, exit, 'the same exit, byte for byte')
  t.same(await next.request({ id: 'd1', type: 'decision', vm, exit: 1, action: 'resume' }), { type: 'ack', id: 'd1', vm, exit: 1, action: 'resume' })
  const second = await next.request({ type: 'decision', vm, exit: 1, action: 'resume' })
  t.equal(second.code, 'EXIT_NOT_PENDING', 'a second decision is refused')
  t.equal(second.exit, 1)
  const decided = await observer.next(m => m.type === 'decided' && m.exit === 1)
  t.equal(decided.by, 'controller')
  // The VM went on: exit 2 is out, and exit 1 was decided exactly once.
  await next.next(m => m.type === 'exit' && m.exit === 2)
  const exits = await rest.get(`/v1/vms/${vm}/exits`)
  const items = (exits.body as { items: { exit: number, decision: { by: string } | null }[] }).items
  t.equal(items.filter(i => i.exit === 1 && i.decision !== null).length, 1)
  t.equal(observer.frames.filter(m => m.type === 'decided' && m.exit === 1).length, 1, 'one decided event for exit 1')
  await Promise.all([next.close(), observer.close()])
})

void t.test('one controller per VM: CONFLICT without takeover, revoked with it', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm()
  const a = await WsClient.open(url, TOKENS.operatorA)
  const b = await WsClient.open(url, TOKENS.admin)
  await a.request({ type: 'subscribe', vm, role: 'controller' })
  await rest.act(vm, 'start')
  await a.next(m => m.type === 'exit' && m.exit === 1)

  const refused = await b.request({ type: 'subscribe', vm, role: 'controller' })
  t.match(refused, { type: 'error', code: 'CONFLICT', vm })
  t.equal((await b.request({ type: 'decision', vm, exit: 1, action: 'resume' })).code, 'NOT_CONTROLLER')

  t.equal((await b.request({ type: 'subscribe', vm, role: 'controller', takeover: true })).type, 'subscribed')
  t.same(await a.next(m => m.type === 'revoked'), { type: 'revoked', vm })
  t.equal((await b.next(m => m.type === 'exit')).exit, 1, 'the new controller gets the pending exit')
  t.equal((await a.request({ type: 'decision', vm, exit: 1, action: 'kill' })).code, 'NOT_CONTROLLER', 'the revoked socket may not decide')
  t.equal((await rest.vm(vm)).state, 'running', 'its kill did nothing')
  t.equal((await b.request({ type: 'decision', vm, exit: 1, action: 'resume' })).type, 'ack')
  // A revoked socket no longer receives the VM's events.
  await b.next(m => m.type === 'exit' && m.exit === 2)
  t.notOk(a.frames.some(m => m.type === 'exit' && m.exit === 2))
  await Promise.all([a.close(), b.close()])
})

void t.test('since replays exactly the events after it, in order; SEQ_EXPIRED once they are no longer kept', async t => {
  const app = await build(t, { limits: { journalEvents: 16 } })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ program: [{ op: 'repeat', count: 20, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }] })
  const ctl = await WsClient.open(url, TOKENS.operatorA)
  await ctl.request({ type: 'subscribe', vm, role: 'controller' })
  await rest.act(vm, 'start')
  // Decide three exits: seq 1 created, 2 running, then exit/decided pairs.
  for (let i = 1; i <= 3; i++) {
    await ctl.next(m => m.type === 'exit' && m.exit === i)
    await ctl.request({ type: 'decision', vm, exit: i, action: 'resume' })
  }
  await ctl.next(m => m.type === 'exit' && m.exit === 4)
  const all = ctl.frames.filter(isEvent(vm)).map(m => m.seq)

  const obs = await WsClient.open(url, TOKENS.observerA)
  const sub = await obs.request({ type: 'subscribe', vm, role: 'observer', since: 2 })
  t.equal(sub.seq, 9)
  await obs.next(m => m.type === 'ack')
  t.same(obs.frames.filter(isEvent(vm)).map(m => m.seq), [3, 4, 5, 6, 7, 8, 9], 'the replay, no more, no less')
  t.same(all.slice(-7), [3, 4, 5, 6, 7, 8, 9])

  // A controller coming back with since gets the pending exit it already saw first.
  const back = await WsClient.open(url, TOKENS.operatorA)
  await back.request({ type: 'subscribe', vm, role: 'controller', since: 9, takeover: true })
  await back.next(m => m.type === 'ack')
  t.same(back.frames.filter(isEvent(vm)).map(m => [m.type, m.seq]), [['exit', 9]], 'pending exit 4 resent, nothing else')
  // Since inside the replay: pending exits older than since come first, then the replay.
  const mid = await WsClient.open(url, TOKENS.operatorA)
  await mid.request({ type: 'subscribe', vm, role: 'controller', since: 7, takeover: true })
  await mid.next(m => m.type === 'ack')
  t.same(mid.frames.filter(isEvent(vm)).map(m => m.seq), [8, 9], 'seq ascending')

  // Decide the rest: 20 exits make 2 + 40 + 1 events, far past the 16 kept.
  for (let i = 4; i <= 20; i++) {
    await mid.next(m => m.type === 'exit' && m.exit === i)
    await mid.request({ type: 'decision', vm, exit: i, action: 'resume' })
  }
  await mid.next(m => m.type === 'state' && m.state === 'stopped')
  const late = await WsClient.open(url, TOKENS.observerA)
  const expired = await late.request({ type: 'subscribe', vm, role: 'observer', since: 2 })
  t.match(expired, { type: 'error', code: 'SEQ_EXPIRED', vm })
  const ok = await late.request({ type: 'subscribe', vm, role: 'observer', since: 40 })
  t.equal(ok.type, 'subscribed', 'a since still kept works')
  await late.next(m => m.type === 'ack')
  t.same(late.frames.filter(isEvent(vm)).map(m => m.seq), [41, 42, 43])
  await Promise.all([ctl.close(), obs.close(), back.close(), mid.close(), late.close()])
})

void t.test('policy rules and decision timeouts are seen over the stream', async t => {
  const clock = new FakeClock()
  const app = await build(t, { clock })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const ruled = await rest.createVm({
    program: [{ op: 'repeat', count: 3, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }],
    policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] }
  })
  const timed = await rest.createVm({
    program: [{ op: 'out', port: 1, size: 1, value: 1 }],
    policy: { decision_timeout_ms: 1000, on_timeout: 'resume' }
  })
  const obs = await WsClient.open(url, TOKENS.observerA)
  await obs.request({ type: 'subscribe', vm: '*', role: 'observer' })
  await rest.act(ruled, 'start')
  await rest.act(timed, 'start')
  await obs.next(m => m.vm === ruled && m.type === 'state' && m.state === 'stopped')
  const ruledEvents = obs.frames.filter(isEvent(ruled)).map(m => m.type === 'decided' ? `decided:${m.by as string}` : m.type)
  // Created before "*" was asked, so its first event seen is running.
  t.same(ruledEvents, ['state', 'exit', 'decided:rule', 'exit', 'decided:rule', 'exit', 'decided:rule', 'state'])

  const ex = await obs.next(m => m.vm === timed && m.type === 'exit')
  t.notOk(obs.frames.some(m => m.vm === timed && m.type === 'decided'), 'waits until the timeout')
  clock.advance(1000)
  const d = await obs.next(m => m.vm === timed && m.type === 'decided')
  t.match(d, { exit: ex.exit, action: 'resume', by: 'timeout' })
  await obs.next(m => m.vm === timed && m.type === 'state' && m.state === 'stopped')
  await obs.close()
})

void t.test('tenants: another tenant\'s VM is VM_NOT_FOUND like a missing one; "*" is the tenant\'s VMs only', async t => {
  const app = await build(t)
  const url = await listen(app)
  const restA = new Rest(app, TOKENS.operatorA)
  const restB = new Rest(app, TOKENS.operatorB)
  const vmA = await restA.createVm({ program: [{ op: 'out', port: 1, size: 1, value: 1 }], policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] } })
  const vmB = await restB.createVm({ program: [{ op: 'out', port: 1, size: 1, value: 1 }], policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] } })

  const b = await WsClient.open(url, TOKENS.operatorB)
  const missing = 'vm_doesnotexist'
  for (const role of ['observer', 'controller']) {
    const foreign = await b.request({ id: 'x', type: 'subscribe', vm: vmA, role })
    const none = await b.request({ id: 'x', type: 'subscribe', vm: missing, role })
    t.match(foreign, { type: 'error', code: 'VM_NOT_FOUND' }, `${role}: another tenant's VM`)
    t.same({ ...foreign, vm: null, message: (foreign.message as string).replace(vmA, '?') }, { ...none, vm: null, message: (none.message as string).replace(missing, '?') }, `${role}: indistinguishable from a missing VM`)
  }
  const dec = await b.request({ type: 'decision', vm: vmA, exit: 1, action: 'kill' })
  t.equal(dec.code, 'VM_NOT_FOUND', 'deciding on another tenant\'s VM')

  const obsA = await WsClient.open(url, TOKENS.observerA)
  const obsB = await WsClient.open(url, TOKENS.observerB)
  const admin = await WsClient.open(url, TOKENS.admin)
  for (const c of [obsA, obsB, admin]) t.same(await c.request({ id: 'all', type: 'subscribe', vm: '*', role: 'observer' }), { type: 'subscribed', id: 'all', vm: '*', role: 'observer', seq: 0 })
  // A VM made after "*" is seen too ("present and future").
  const vmA2 = await restA.createVm({ program: [] })
  await restA.act(vmA, 'start')
  await restB.act(vmB, 'start')
  await obsA.next(m => m.vm === vmA && m.type === 'state' && m.state === 'stopped')
  await obsB.next(m => m.vm === vmB && m.type === 'state' && m.state === 'stopped')
  await admin.next(m => m.vm === vmA && m.type === 'state' && m.state === 'stopped')
  await admin.next(m => m.vm === vmB && m.type === 'state' && m.state === 'stopped')
  t.ok(obsA.frames.some(m => m.vm === vmA2), 'a VM created after subscribing')
  t.notOk(obsA.frames.some(m => m.vm === vmB), 'tenant a sees nothing of b')
  t.notOk(obsB.frames.some(m => m.vm === vmA || m.vm === vmA2), 'tenant b sees nothing of a')
  t.equal((await obsA.request({ type: 'subscribe', vm: '*', role: 'observer', since: 1 })).code, 'BAD_MESSAGE', '"*" takes no since')
  await Promise.all([b.close(), obsA.close(), obsB.close(), admin.close()])
})

void t.test('an observer token can neither control nor decide', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm()
  await rest.act(vm, 'start')
  await until(async () => (await rest.vm(vm)).counters.pending === 1, 'a pending exit')
  const before = await rest.snapshot(vm)
  const obs = await WsClient.open(url, TOKENS.observerA)
  t.match(await obs.request({ type: 'subscribe', vm, role: 'controller' }), { type: 'error', code: 'FORBIDDEN', vm })
  t.match(await obs.request({ type: 'subscribe', vm, role: 'controller', takeover: true }), { type: 'error', code: 'FORBIDDEN' })
  t.match(await obs.request({ type: 'subscribe', vm: 'vm_nope', role: 'controller' }), { type: 'error', code: 'FORBIDDEN' }, 'the same answer whether the VM exists or not')
  t.equal((await obs.request({ type: 'subscribe', vm, role: 'observer' })).type, 'subscribed')
  t.match(await obs.request({ type: 'decision', vm, exit: 1, action: 'kill' }), { type: 'error', code: 'NOT_CONTROLLER', vm, exit: 1 })
  t.same(await rest.snapshot(vm), before, 'the VM is as it was')
  // An operator that only observes may not decide either.
  const op = await WsClient.open(url, TOKENS.operatorA)
  await op.request({ type: 'subscribe', vm, role: 'observer' })
  t.equal((await op.request({ type: 'decision', vm, exit: 1, action: 'kill' })).code, 'NOT_CONTROLLER')
  t.match(await op.request({ type: 'subscribe', vm: '*', role: 'controller' }), { code: 'BAD_MESSAGE' }, '"*" is for observers')
  t.same(await rest.snapshot(vm), before)
  await Promise.all([obs.close(), op.close()])
})

void t.test('a controller that stops answering pings is terminated and its role released', async t => {
  // The client shares this process, so a heartbeat must outlast a GC pause or a busy
  // neighbour test; 100 ms does, and keeps the test short.
  const app = await build(t, { settings: withStream({ heartbeatMs: 100 }) })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm()
  // autoPong off: this peer answers pings by hand while the test sets it up, then falls
  // silent: alive at TCP level, but dead to the heartbeat. Answering during setup keeps
  // the heartbeat from ending it before it has become the controller.
  const dead = await WsClient.open(url, TOKENS.operatorA, { autoPong: false })
  let answering = true
  dead.ws.on('ping', data => { if (answering) dead.ws.pong(data) })
  const live = await WsClient.open(url, TOKENS.operatorA)
  await dead.request({ type: 'subscribe', vm, role: 'controller' })
  await live.request({ type: 'subscribe', vm, role: 'observer' })
  await rest.act(vm, 'start')
  await dead.next(m => m.type === 'exit')
  answering = false
  const closed = await dead.closed()
  t.equal(closed.code, 1006, 'terminated, no close handshake')
  t.ok(stats(app).deadTerminated >= 1)
  t.equal(stats(app).controllers, 0, 'its controller role is gone')
  const ctl = await WsClient.open(url, TOKENS.operatorA)
  t.equal((await ctl.request({ type: 'subscribe', vm, role: 'controller' })).type, 'subscribed', 'a new controller needs no takeover')
  t.equal((await ctl.next(m => m.type === 'exit')).exit, 1, 'and gets the pending exit')
  // Several heartbeats later the live sockets (they answer pings) are still open.
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(live.closeInfo, undefined)
  t.equal(ctl.closeInfo, undefined)
  await Promise.all([live.close(), ctl.close()])
})

void t.test('limits: a frame over maxPayload closes with 1009; subscriptions per socket are capped', async t => {
  const app = await build(t, { settings: withStream({ maxSubscriptions: 2 }, { wsMaxPayload: 1024 }) })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vms = [await rest.createVm(), await rest.createVm(), await rest.createVm()]
  const c = await WsClient.open(url, TOKENS.operatorA)
  t.equal((await c.request({ type: 'subscribe', vm: vms[0], role: 'observer' })).type, 'subscribed')
  t.equal((await c.request({ type: 'subscribe', vm: '*', role: 'observer' })).type, 'subscribed')
  t.match(await c.request({ type: 'subscribe', vm: vms[1], role: 'observer' }), { type: 'error', code: 'LIMIT_EXCEEDED' })
  t.equal((await c.request({ type: 'subscribe', vm: vms[0], role: 'controller' })).type, 'subscribed', 'changing a role takes no new slot')
  await c.request({ type: 'unsubscribe', vm: '*' })
  t.equal((await c.request({ type: 'subscribe', vm: vms[2], role: 'observer' })).type, 'subscribed', 'a slot freed by unsubscribe')

  const big = await WsClient.open(url, TOKENS.operatorA)
  big.send(JSON.stringify({ type: 'unsubscribe', vm: 'x'.repeat(2000) }))
  t.equal((await big.closed()).code, 1009, 'message too big')
  const fresh = await WsClient.open(url, TOKENS.operatorA)
  t.equal((await fresh.request({ type: 'subscribe', vm: vms[1], role: 'observer' })).type, 'subscribed', 'the server goes on')
  await Promise.all([c.close(), fresh.close()])
})

void t.test('bad messages get BAD_MESSAGE (with their id when valid); the socket and VMs stay as they were', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm()
  const c = await WsClient.open(url, TOKENS.operatorA)
  await c.request({ type: 'subscribe', vm, role: 'controller' })
  await rest.act(vm, 'start')
  await c.next(m => m.type === 'exit')
  const before = await rest.snapshot(vm)
  const cases: [string, unknown, (string | number)?][] = [
    ['not JSON', '{"type":', undefined],
    ['an array', '[1,2]', undefined],
    ['a number', '42', undefined],
    ['null', 'null', undefined],
    ['no type', { id: 7, vm }, 7],
    ['unknown type', { id: 'u', type: 'hack', vm }, 'u'],
    ['missing exit', { id: 'm', type: 'decision', vm, action: 'resume' }, 'm'],
    ['wrong action', { id: 'w', type: 'decision', vm, exit: 1, action: 'reboot' }, 'w'],
    ['exit as a string', { id: 's', type: 'decision', vm, exit: '1', action: 'resume' }, 's'],
    ['exit too large', { id: 'h', type: 'decision', vm, exit: 1e300, action: 'resume' }, 'h'],
    ['extra field', { id: 'e', type: 'decision', vm, exit: 1, action: 'kill', force: true }, 'e'],
    ['__proto__ field', JSON.stringify({ id: 'p', type: 'decision', vm, exit: 1, action: 'kill' }).replace('{', '{"__proto__":{"isController":true},'), 'p'],
    ['an invalid id is not echoed', { id: { nested: 1 }, type: 'decision', vm, exit: 1, action: 'kill' }, undefined],
    ['role missing', { id: 'r', type: 'subscribe', vm }, 'r']
  ]
  for (const [, frame] of cases) c.send(frame)
  c.ws.send(Buffer.from(JSON.stringify({ type: 'decision', vm, exit: 1, action: 'kill' })), { binary: true })
  for (const [name, , id] of cases) {
    const e = await c.next(m => m.type === 'error')
    t.equal(e.code, 'BAD_MESSAGE', name)
    t.equal(e.id, id, `${name}: id`)
  }
  t.match(await c.next(m => m.type === 'error'), { code: 'BAD_MESSAGE', message: /binary/ }, 'a binary frame')
  t.equal((await c.request({ type: 'decision', vm, exit: 1, action: 'convert' })).code, 'INVALID_ACTION', 'convert on an IO exit')
  t.same(await rest.snapshot(vm), before, 'the VM is as it was')
  t.equal(c.closeInfo, undefined, 'the socket is open')
  t.equal((await c.request({ type: 'decision', vm, exit: 1, action: 'resume' })).type, 'ack', 'and still the controller')
  t.equal(({} as Record<string, unknown>).isController, undefined, 'no prototype was touched')
  await c.close()
})

void t.test('events of one VM arrive in seq order, none missed or repeated, across "*", replay and live', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] } })
  await rest.act(vm, 'start')
  // The VM runs by rule; subscribe while it makes thousands of events per second.
  const a = await WsClient.open(url, TOKENS.observerA)
  const b = await WsClient.open(url, TOKENS.observerA)
  await until(async () => (await rest.vm(vm)).seq > 200, 'some events')
  a.send({ type: 'subscribe', vm: '*', role: 'observer' })
  a.send({ type: 'subscribe', vm, role: 'observer', since: 50 })
  b.send({ type: 'subscribe', vm, role: 'observer', since: 100 })
  await until(() => a.frames.filter(isEvent(vm)).length > 2000 && b.frames.filter(isEvent(vm)).length > 2000, 'live events')
  await rest.act(vm, 'pause')
  const paused = (await rest.vm(vm)).seq
  await a.next(m => m.type === 'state' && m.state === 'paused')
  await b.next(m => m.type === 'state' && m.state === 'paused')
  for (const [name, c, from] of [['"*" then since 50', a, undefined], ['since 100', b, 101]] as const) {
    const seqs = c.frames.filter(isEvent(vm)).map(m => m.seq as number)
    const start = from ?? seqs[0] as number
    t.equal(seqs[0], start, `${name}: starts where asked`)
    t.equal(seqs.at(-1), paused, `${name}: up to the last`)
    t.ok(seqs.every((s, i) => s === start + i), `${name}: every seq once, ascending`)
  }
  await Promise.all([a.close(), b.close()])
})

void t.test('the server closes every socket when it shuts down', async t => {
  const app = await build(t)
  const url = await listen(app)
  const c = await WsClient.open(url, TOKENS.operatorA)
  await c.request({ type: 'subscribe', vm: '*', role: 'observer' })
  await app.close()
  t.same(await c.closed(), { code: 1001, reason: 'server shutting down' }, 'going away')
  t.equal(stats(app).sockets, 0, 'no session left')
})

void t.test('a socket that dies never leaves a session behind', async t => {
  const app = await build(t)
  const url = await listen(app)
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${TOKENS.operatorA}` } })
  await new Promise(resolve => ws.once('message', resolve))
  t.equal(stats(app).sockets, 1)
  ws.terminate()
  await until(() => stats(app).sockets === 0, 'the session to go')
  t.pass()
})

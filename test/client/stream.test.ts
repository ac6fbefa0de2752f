// ExitStream against a scripted fake server: the handshake, request/response correlation,
// reconnects that lose nothing and repeat nothing, SEQ_EXPIRED, heartbeats and failures.
import t from 'tap'
import type { Test } from 'tap'
import { ExitStream } from '../../src/client/stream.js'
import type { ExitStreamOptions } from '../../src/client/stream.js'
import { FaultlineStreamError } from '../../src/client/errors.js'
import type { ExitMessage } from '../../src/client/types.js'
import { startFakeServer } from './fake-server.js'
import type { FakeServerOptions, FakeSocket } from './fake-server.js'

const TOKEN = 'tok-123'

const exitMsg = (vm: string, exit: number, seq: number): ExitMessage => ({
  type: 'exit', vm, exit, seq, vcpu: 0, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39,
  run: { ret: -1, errno: 'EFAULT' }, memory_fault: { flags: 8, gpa: 0x1000 * exit, size: 4096 }, pending: true
})

/** A fake server and a stream on it, both closed when the test ends. */
async function setup (t: Test, server: FakeServerOptions = {}, stream: Partial<ExitStreamOptions> = {}) {
  const fake = await startFakeServer({ token: TOKEN, ...server })
  const s = new ExitStream({
    url: fake.url,
    token: TOKEN,
    requestTimeoutMs: 5000,
    reconnect: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 5 },
    random: () => 0.5,
    ...stream
  })
  t.teardown(async () => { await s.close(); await fake.close() })
  return { fake, stream: s }
}

/** Answers the next subscribe on a socket with `subscribed` at `seq`, returning the request. */
async function acceptSubscribe (sock: FakeSocket, seq: number): Promise<Record<string, unknown>> {
  const msg = await sock.next()
  sock.send({ type: 'subscribed', id: msg.id, vm: msg.vm, role: msg.role, seq })
  return msg
}

void t.test('waits for hello, subscribes with an id and the bearer header, and yields exits', async (t) => {
  const { fake, stream } = await setup(t)
  const hello = await stream.ready()
  t.equal(hello.protocol, 1)
  const sock = await fake.socket(0)
  t.equal(sock.headers.authorization, `Bearer ${TOKEN}`)
  const subscribing = stream.subscribe('vm1', { role: 'controller' })
  const req = await acceptSubscribe(sock, 7)
  t.match(req, { type: 'subscribe', vm: 'vm1', role: 'controller' })
  t.type(req.id, 'string')
  t.notOk('since' in req, 'a first subscription asks for no replay')
  t.match(await subscribing, { type: 'subscribed', vm: 'vm1', seq: 7 })
  // A pending exit older than `subscribed.seq` is still new to this client.
  sock.send(exitMsg('vm1', 3, 5))
  const seen: number[] = []
  stream.on('exit', (e) => seen.push(e.exit))
  // A rule decided this one in the server: it is an event, not something to decide.
  sock.send({ ...exitMsg('vm1', 4, 6), pending: false })
  sock.send(exitMsg('vm1', 5, 8))
  const it = stream.exits()
  t.match((await it.next()).value, { exit: 3, seq: 5 })
  t.match((await it.next()).value, { exit: 5, seq: 8 }, 'exits() offers only pending exits')
  t.same(seen.slice(-2), [4, 5], 'the exit event carries every exit')
  t.equal(stream.lastSeq('vm1'), 8)
  t.same([...stream.subscriptions], [['vm1', 'controller']])
})

void t.test('browser auth sends the token as a subprotocol beside faultline.v1', async (t) => {
  const { fake, stream } = await setup(t, {}, { auth: 'subprotocol' })
  await stream.ready()
  const sock = await fake.socket(0)
  t.equal(sock.headers.authorization, undefined)
  t.equal(sock.protocol, 'faultline.v1')
  t.match(String(sock.headers['sec-websocket-protocol']), `bearer.${TOKEN}`)
})

void t.test('decide resolves on the ack and rejects with the code of the matching error', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const sock = await fake.socket(0)
  const ok = stream.decide('vm1', exitMsg('vm1', 1, 1), 'resume', { ret: 0, data: [1, 2], reason: 'test' })
  const bad = stream.decide('vm1', 2, 'convert')
  const first = await sock.next()
  const second = await sock.next()
  t.match(first, { type: 'decision', vm: 'vm1', exit: 1, action: 'resume', ret: 0, data: [1, 2], reason: 'test' })
  t.match(second, { type: 'decision', vm: 'vm1', exit: 2, action: 'convert' })
  t.not(first.id, second.id, 'every request has its own id')
  // Replies out of order: correlation is by id, not by order.
  sock.send({ type: 'error', id: second.id, code: 'EXIT_NOT_PENDING', message: 'exit 2 is not pending', vm: 'vm1', exit: 2 })
  sock.send({ type: 'ack', id: first.id })
  t.match(await ok, { type: 'ack', id: first.id })
  const error = await bad.then(() => undefined, (e: unknown) => e)
  t.ok(error instanceof FaultlineStreamError)
  t.match(error, { code: 'EXIT_NOT_PENDING', vm: 'vm1', exit: 2 })
})

void t.test('an error that answers no request is emitted as an error event', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const sock = await fake.socket(0)
  const seen = new Promise<FaultlineStreamError>((resolve) => stream.once('error', resolve))
  sock.send({ type: 'error', code: 'BAD_MESSAGE', message: 'what?' })
  t.match(await seen, { code: 'BAD_MESSAGE', message: 'what?' })
  const notJson = new Promise<FaultlineStreamError>((resolve) => stream.once('error', resolve))
  sock.send('not json{')
  t.match(await notJson, { code: 'BAD_MESSAGE' })
})

void t.test('a subscribe refused by the server rejects and is not restored later', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const sock = await fake.socket(0)
  const sub = stream.subscribe('vm9', { role: 'controller' })
  const req = await sock.next()
  sock.send({ type: 'error', id: req.id, code: 'CONFLICT', message: 'vm9 has a controller', vm: 'vm9' })
  await t.rejects(sub, { code: 'CONFLICT' })
  t.equal(stream.subscriptions.size, 0)
})

void t.test('reconnects, resubscribes with since = the last seq seen, drops duplicates, resends decisions', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const events: string[] = []
  stream.on('exit', (e) => events.push(`exit ${e.exit}@${e.seq}`))
  stream.on('decided', (e) => events.push(`decided ${e.exit}@${e.seq}`))
  stream.on('state', (e) => events.push(`state ${e.state}@${e.seq}`))
  const reconnects: number[] = []
  stream.on('reconnect', (e) => reconnects.push(e.attempt))
  const first = await fake.socket(0)
  const sub = stream.subscribe('vm1', { role: 'controller' })
  await acceptSubscribe(first, 0)
  await sub
  first.send(exitMsg('vm1', 1, 1))
  first.send({ type: 'decided', vm: 'vm1', exit: 1, seq: 2, action: 'convert', by: 'controller' })
  first.send(exitMsg('vm1', 2, 3))
  const it = stream.exits()
  t.match((await it.next()).value, { exit: 1 })
  t.match((await it.next()).value, { exit: 2 })
  // A decision is in flight when the server vanishes: it must be sent again.
  const deciding = stream.decide('vm1', 2, 'convert')
  const lost = await first.next()
  t.equal(lost.type, 'decision')
  first.ws.terminate()

  const second = await fake.socket(1)
  const resub = await acceptSubscribe(second, 5)
  t.match(resub, { type: 'subscribe', vm: 'vm1', role: 'controller', since: 3, takeover: true })
  const resent = await second.next()
  t.match(resent, { type: 'decision', vm: 'vm1', exit: 2, action: 'convert', id: lost.id })
  // The replay overlaps what was seen, and exit 2 is sent again as still pending: both dropped.
  second.send(exitMsg('vm1', 1, 1))
  second.send({ type: 'decided', vm: 'vm1', exit: 1, seq: 2, action: 'convert', by: 'controller' })
  second.send(exitMsg('vm1', 2, 3))
  second.send({ type: 'state', vm: 'vm1', seq: 4, state: 'paused', reason: 'user' })
  second.send(exitMsg('vm1', 3, 5))
  second.send({ type: 'ack', id: resent.id })
  await deciding
  t.match((await it.next()).value, { exit: 3, seq: 5 })
  t.same(events, ['exit 1@1', 'decided 1@2', 'exit 2@3', 'state paused@4', 'exit 3@5'])
  t.same(reconnects, [1])
  t.equal(stream.lastSeq('vm1'), 5)
})

void t.test('on SEQ_EXPIRED it subscribes again without since and reports the gap', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const first = await fake.socket(0)
  const sub = stream.subscribe('vm1', { role: 'observer' })
  await acceptSubscribe(first, 0)
  await sub
  first.send({ type: 'state', vm: 'vm1', seq: 3, state: 'running', reason: null })
  await new Promise((resolve) => stream.once('state', resolve))
  const gap = new Promise((resolve) => stream.once('gap', resolve))
  first.ws.close(1013, 'too slow')

  const second = await fake.socket(1)
  const withSince = await second.next()
  t.match(withSince, { type: 'subscribe', vm: 'vm1', role: 'observer', since: 3 })
  t.notOk('takeover' in withSince, 'an observer never asks for takeover')
  second.send({ type: 'error', id: withSince.id, code: 'SEQ_EXPIRED', message: 'gone', vm: 'vm1' })
  const fresh = await second.next()
  t.equal(fresh.type, 'subscribe')
  t.notOk('since' in fresh)
  second.send({ type: 'subscribed', id: fresh.id, vm: 'vm1', role: 'observer', seq: 40 })
  t.same(await gap, { vm: 'vm1', since: 3, seq: 40 })
  t.equal(stream.lastSeq('vm1'), 40)
  const states: number[] = []
  stream.on('state', (e) => states.push(e.seq))
  second.send({ type: 'state', vm: 'vm1', seq: 39, state: 'paused' })
  second.send({ type: 'state', vm: 'vm1', seq: 41, state: 'stopped' })
  await new Promise((resolve) => stream.once('state', resolve))
  t.same(states, [41], 'events before the fresh start are not delivered')
})

void t.test('a caller asking for since that expired is subscribed afresh, with a gap', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const sock = await fake.socket(0)
  const gap = new Promise((resolve) => stream.once('gap', resolve))
  const sub = stream.subscribe('vm2', { role: 'observer', since: 10 })
  const req = await sock.next()
  t.equal(req.since, 10)
  sock.send({ type: 'error', vm: 'vm2', code: 'SEQ_EXPIRED', message: 'gone' })
  const again = await sock.next()
  t.notOk('since' in again)
  sock.send({ type: 'subscribed', vm: 'vm2', role: 'observer', seq: 99 })
  t.match(await sub, { seq: 99 })
  t.same(await gap, { vm: 'vm2', since: 10, seq: 99 })
})

void t.test('the wildcard subscription is restored without since', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const first = await fake.socket(0)
  const sub = stream.subscribe('*', { role: 'observer' })
  await acceptSubscribe(first, 0)
  await sub
  first.send({ type: 'state', vm: 'a', seq: 4, state: 'running' })
  await new Promise((resolve) => stream.once('state', resolve))
  first.ws.terminate()
  const second = await fake.socket(1)
  const again = await second.next()
  t.match(again, { type: 'subscribe', vm: '*', role: 'observer' })
  t.notOk('since' in again)
})

void t.test('requests made while disconnected are sent once the next socket says hello', async (t) => {
  const { fake, stream } = await setup(t, { hello: false })
  const sock = await fake.socket(0)
  const sub = stream.subscribe('vm1', { role: 'controller', takeover: true })
  const decision = stream.decide('vm1', 1, 'kill')
  t.equal(stream.isConnected, false)
  sock.send({ type: 'hello', protocol: 1, server: 'faultline/test' })
  const first = await sock.next()
  const second = await sock.next()
  t.match(first, { type: 'subscribe', takeover: true })
  t.match(second, { type: 'decision', action: 'kill' })
  sock.send({ type: 'subscribed', id: first.id, vm: 'vm1', role: 'controller', seq: 1 })
  sock.send({ type: 'ack', id: second.id })
  await sub
  await decision
  t.equal(stream.isConnected, true)
})

void t.test('unsubscribe waits for the ack and forgets the VM; revoked forgets it too', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const sock = await fake.socket(0)
  const a = stream.subscribe('a', { role: 'controller' })
  await acceptSubscribe(sock, 0)
  await a
  const b = stream.subscribe('b', { role: 'controller' })
  await acceptSubscribe(sock, 0)
  await b
  const un = stream.unsubscribe('a')
  const req = await sock.next()
  t.match(req, { type: 'unsubscribe', vm: 'a' })
  sock.send({ type: 'ack', id: req.id })
  await un
  const revoked = new Promise((resolve) => stream.once('revoked', resolve))
  sock.send({ type: 'revoked', vm: 'b' })
  t.same(await revoked, { type: 'revoked', vm: 'b' })
  t.equal(stream.subscriptions.size, 0)
})

void t.test('a server that stops answering is detected by the heartbeat and replaced', async (t) => {
  const { fake, stream } = await setup(t, { autoPong: false }, { heartbeatTimeoutMs: 60, pingIntervalMs: 20 })
  await stream.ready()
  const reconnect = await new Promise((resolve) => stream.once('reconnect', resolve))
  t.match(reconnect, { attempt: 1 })
  await fake.socket(1)
  t.ok(fake.upgrades >= 2)
})

void t.test('a live server answering pings keeps the socket', async (t) => {
  const { fake, stream } = await setup(t, {}, { heartbeatTimeoutMs: 400, pingIntervalMs: 10 })
  await stream.ready()
  const sock = await fake.socket(0)
  // Enough ping rounds to pass the timeout twice over; a reconnect ends the wait (and fails).
  let pings = 0
  const outcome = await new Promise<string>((resolve) => {
    stream.once('reconnect', () => resolve('reconnected'))
    sock.ws.on('ping', () => { if (++pings === 80) resolve('alive') })
  })
  t.equal(outcome, 'alive')
  t.equal(fake.upgrades, 1)
})

void t.test('a refused token fails the stream at once, without retrying', async (t) => {
  const fake = await startFakeServer({ token: 'right' })
  t.teardown(() => fake.close())
  const stream = new ExitStream({ url: fake.url, token: 'wrong', reconnect: { initialDelayMs: 1, maxAttempts: 5 } })
  await t.rejects(stream.ready(), { code: 'UNAUTHORIZED' })
  t.equal(fake.upgrades, 1)
  await t.rejects(stream.subscribe('vm', { role: 'observer' }), { code: 'UNAUTHORIZED' })
  const it = stream.exits()
  await t.rejects(it.next(), { code: 'UNAUTHORIZED' })
  await stream.close()
})

void t.test('it gives up after maxAttempts consecutive failed connections', async (t) => {
  const fake = await startFakeServer()
  const url = fake.url
  await fake.close()
  const stream = new ExitStream({ url, reconnect: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 } })
  const attempts: number[] = []
  stream.on('reconnect', (e) => attempts.push(e.attempt))
  await t.rejects(stream.ready(), { code: 'DISCONNECTED' })
  t.same(attempts, [1, 2, 3])
  await stream.close()
})

void t.test('without reconnect a dropped socket ends the stream', async (t) => {
  const { fake, stream } = await setup(t, {}, { reconnect: false })
  await stream.ready()
  const pending = t.rejects(stream.decide('vm1', 1, 'resume'), { code: 'DISCONNECTED' })
  await (await fake.socket(0)).next()
  ;(await fake.socket(0)).ws.terminate()
  await pending
  await t.rejects(stream.exits().next(), { code: 'DISCONNECTED' })
})

void t.test('a server speaking another protocol version is refused', async (t) => {
  const { stream } = await setup(t, { hello: { type: 'hello', protocol: 2, server: 'faultline/9' } })
  await t.rejects(stream.ready(), { code: 'PROTOCOL' })
})

void t.test('close rejects what is pending, ends exits() and refuses new requests', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  await fake.socket(0)
  const it = stream.exits()
  const waiting = it.next()
  const pending = t.rejects(stream.decide('vm1', 1, 'resume'), { code: 'CLOSED' })
  let closed = false
  stream.on('close', () => { closed = true })
  await stream.close()
  await pending
  t.same(await waiting, { value: undefined, done: true })
  await t.rejects(stream.decide('vm1', 1, 'resume'), { code: 'CLOSED' })
  t.ok(closed)
  await stream.close()
})

void t.test('a request with no reply rejects with TIMEOUT', async (t) => {
  const { stream } = await setup(t, {}, { requestTimeoutMs: 30 })
  await stream.ready()
  await t.rejects(stream.decide('vm1', 1, 'resume'), { code: 'TIMEOUT' })
})

void t.test('breaking out of exits() leaves the stream running for the next reader', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const sock = await fake.socket(0)
  sock.send(exitMsg('v', 1, 1))
  sock.send(exitMsg('v', 2, 2))
  for await (const exit of stream.exits()) {
    t.equal(exit.exit, 1)
    break
  }
  const again = await stream.exits().next()
  t.match(again.value, { exit: 2 })
})

void t.test('unknown message types from a newer server are ignored', async (t) => {
  const { fake, stream } = await setup(t)
  await stream.ready()
  const sock = await fake.socket(0)
  let errors = 0
  stream.on('error', () => { errors++ })
  sock.send({ type: 'something-new', x: 1 })
  sock.send(exitMsg('v', 1, 1))
  t.match((await stream.exits().next()).value, { exit: 1 })
  t.equal(errors, 0)
})

// Thousands of malformed and hostile frames over real sockets (docs/spec/api-v1.md: bad messages get
// BAD_MESSAGE and "the socket and every VM stay as they were"), then proof that nothing
// moved: every VM reads back the same over REST, and the server still serves.
import t from 'tap'
import fc from 'fast-check'
import { Compile } from 'typebox/compile'
import { ServerMessage } from '../../schemas/stream.js'
import { build, TOKENS } from '../helper.js'
import { Rest } from '../stream/rest.js'
import { listen, until, WsClient } from '../stream/ws-client.js'
import type { Msg } from '../stream/ws-client.js'

const serverMessage = Compile(ServerMessage)
/** Every code a hostile frame may get back; INTERNAL never. */
const CODES = new Set(['BAD_MESSAGE', 'VM_NOT_FOUND', 'FORBIDDEN', 'CONFLICT', 'NOT_CONTROLLER', 'EXIT_NOT_PENDING', 'INVALID_ACTION', 'SEQ_EXPIRED', 'LIMIT_EXCEEDED'])
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'isController', 'polluted']

void t.test('hostile frames change nothing: every VM is as it was and the server still serves', async t => {
  const app = await build(t)
  const url = await listen(app)
  const restA = new Rest(app, TOKENS.operatorA)
  const restB = new Rest(app, TOKENS.operatorB)
  const running = await restA.createVm({ vcpus: 2 })
  const idle = await restA.createVm({ type: 'tdx', memory: { size_mib: 4 }, program: [{ op: 'read', gpa: 4096, private: false }] })
  const foreign = await restB.createVm()
  const ctl = await WsClient.open(url, TOKENS.operatorA)
  await ctl.request({ type: 'subscribe', vm: running, role: 'controller' })
  await restA.act(running, 'start')
  await restB.act(foreign, 'start')
  // Every started vCPU waits on its first exit (ids 1 and 2 on `running`, 1 on `foreign`).
  await until(async () => (await restA.vm(running)).counters.pending === 2 && (await restB.vm(foreign)).counters.pending === 1, 'pending exits')
  const pendingIds = new Set([1, 2])
  const snapshot = async (): Promise<unknown[]> => [await restA.snapshot(running), await restA.snapshot(idle), await restB.snapshot(foreign)]
  const before = await snapshot()

  // ---- the frames ----
  const vmArb = fc.oneof(
    fc.constantFrom(running, idle, foreign, '*', 'vm_missing', '', ...HOSTILE_KEYS, 'x'.repeat(65)),
    fc.string({ maxLength: 80 })
  )
  // Never the id of a pending exit in a well-formed decision: those could legitimately decide.
  const exitArb = fc.oneof(
    fc.integer({ min: 3, max: 2 ** 31 }),
    fc.integer({ min: -(2 ** 31), max: 0 }),
    fc.constantFrom(1e300, -1e300, 2 ** 53, 2 ** 53 + 2, 1.5, 1e-300, -0),
    fc.string({ maxLength: 8 }), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 })
  )
  const anyArb = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }))
  const message = fc.record({
    type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'decision', 'ack', 'hello', 'exit', 'revoked', 'SUBSCRIBE', ''), anyArb),
    id: fc.oneof(fc.string({ maxLength: 200 }), fc.integer(), fc.constantFrom(2 ** 60, -1e300), anyArb),
    vm: fc.oneof(vmArb, anyArb),
    role: fc.oneof(fc.constantFrom('controller', 'observer', 'admin', 'operator'), anyArb),
    since: fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.constantFrom(2 ** 53, 1e300, -1e300, 0.5), anyArb),
    takeover: fc.oneof(fc.boolean(), anyArb),
    exit: exitArb,
    action: fc.oneof(fc.constantFrom('convert', 'resume', 'kill', 'KILL', 'reboot', ''), anyArb),
    ret: fc.oneof(fc.integer(), fc.constantFrom(2 ** 64, -1e300), anyArb),
    data: fc.oneof(fc.array(fc.integer({ min: -1, max: 2 ** 33 }), { maxLength: 10 }), anyArb),
    reason: fc.oneof(fc.string({ maxLength: 300 }), anyArb)
  }, { requiredKeys: [] })
  const withHostileKey = fc.tuple(message, fc.constantFrom(...HOSTILE_KEYS), fc.jsonValue({ maxDepth: 2 }))
    .map(([m, k, v]) => JSON.stringify(m).replace(/^\{/, `{${JSON.stringify(k)}:${JSON.stringify(v)}${Object.keys(m).length > 0 ? ',' : ''}`))
  const frame = fc.oneof(
    { weight: 5, arbitrary: message.map(m => JSON.stringify(m)) },
    { weight: 3, arbitrary: withHostileKey },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '}', '[]', '"subscribe"', '{"type":"decision"', '\u0000', '{"type":"subscribe","vm":"*","role":"observer","since":1e999}', '['.repeat(2000) + ']'.repeat(2000)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map(b => Buffer.from(b)) }
  )

  // ---- send them: each frame, then a sentinel whose ack marks the end of its replies ----
  const assertReplies = (replies: Msg[], sent: string | Buffer): void => {
    for (const r of replies) {
      if (!serverMessage.Check(r)) throw new Error(`reply outside the contract: ${JSON.stringify(r)} to ${String(sent)}`)
      if (r.type === 'error' && !CODES.has(r.code as string)) throw new Error(`unexpected code ${String(r.code)} to ${String(sent)}`)
    }
  }
  let n = 0
  const fuzz = async (c: WsClient, runs: number, seed: number): Promise<void> => {
    await fc.assert(fc.asyncProperty(frame, async f => {
      const from = c.frames.length
      if (typeof f === 'string') c.ws.send(f)
      else c.ws.send(f, { binary: true })
      const id = `sentinel-${++n}`
      c.send({ type: 'unsubscribe', id, vm: 'sentinel' })
      await c.reply(id)
      assertReplies(c.frames.slice(from).filter(m => m.id !== id), f)
      if (c.closeInfo !== undefined) throw new Error(`socket closed by ${String(f)}`)
    }), { numRuns: runs, seed, endOnFailure: true })
  }
  const observerA = await WsClient.open(url, TOKENS.observerA)
  const operatorB = await WsClient.open(url, TOKENS.operatorB)
  await fuzz(observerA, 1000, 1)
  await fuzz(operatorB, 1000, 2)
  // The VM's own controller: well-formed decisions only ever name exits that are not pending.
  await fuzz(ctl, 600, 3)
  t.ok(n >= 2600, `${n} hostile frames sent`)

  // A burst with no waiting between frames: the socket takes them in order all the same.
  const burst = fc.sample(frame, { numRuns: 1000, seed: 4 })
  const from = operatorB.frames.length
  for (const f of burst) operatorB.ws.send(f, { binary: typeof f !== 'string' })
  t.equal((await operatorB.request({ id: 'after-burst', type: 'unsubscribe', vm: 'sentinel' })).type, 'ack')
  assertReplies(operatorB.frames.slice(from).filter(m => m.id !== 'after-burst'), 'burst')

  // ---- nothing moved ----
  t.same(await snapshot(), before, 'every VM: state, counters, pending exits, vCPUs and attributes as they were')
  for (const p of pendingIds) t.ok(((before[0] as { pending: { body: { items: { exit: number }[] } } }).pending.body.items).some(i => i.exit === p), `exit ${p} still pending`)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.equal(({} as Record<string, unknown>).isController, undefined)
  for (const c of [observerA, operatorB, ctl]) t.equal(c.closeInfo, undefined, 'every fuzzed socket is still open')

  // ---- still serving ----
  const fresh = await WsClient.open(url, TOKENS.operatorA)
  t.equal(fresh.frames[0]?.type, 'hello', 'a fresh socket gets hello')
  t.equal((await restA.get('/v1/vms')).status, 200, 'REST answers')
  // And the controller can still decide the exits no frame touched.
  const ctl2 = await WsClient.open(url, TOKENS.operatorA)
  await ctl2.request({ type: 'subscribe', vm: running, role: 'controller', takeover: true })
  t.equal((await ctl2.request({ type: 'decision', vm: running, exit: 1, action: 'resume' })).type, 'ack')
  await Promise.all([observerA.close(), operatorB.close(), ctl.close(), fresh.close(), ctl2.close()])
})

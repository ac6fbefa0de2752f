// Observing sockets in batches (observerFlushMs > 0), which share each VM's events and
// batches (src/stream/observer-groups.ts): every observer still gets each event of its VM
// exactly once and in order, from its `subscribed` on, whatever it does meanwhile (another
// observer joining, unsubscribing, "*", a controller role, a resubscribe with since, the VM
// deleted).
import t from 'tap'
import type { Test } from 'tap'
import { build, TOKENS } from '../helper.js'
import { EXIT_FOREVER, Rest } from '../stream/rest.js'
import { listen, stats, until, WsClient } from '../stream/ws-client.js'
import type { Msg } from '../stream/ws-client.js'

const BATCHED = { stream: { observerFlushMs: 5 } }
const RULED = { policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] } }

/** The seqs of the VM's events this client got, in the order it got them. */
const seqsOf = (c: WsClient, vm: string): number[] =>
  c.frames.filter((m: Msg) => m.vm === vm && (m.type === 'exit' || m.type === 'decided' || m.type === 'state')).map(m => m.seq as number)

/** Each seq one more than the last: nothing lost, nothing twice, nothing out of order. */
function contiguous (t: Test, seqs: number[], what: string): void {
  const bad = seqs.findIndex((s, i) => i > 0 && s !== (seqs[i - 1] as number) + 1)
  t.equal(bad, -1, `${what}: ${seqs.length} events in order, none missing or repeated${bad === -1 ? '' : ` (at ${bad}: ${seqs.slice(Math.max(0, bad - 2), bad + 2).join(',')})`}`)
}

void t.test('three observers of a VM in batches get the same events, each exactly once, in order', async t => {
  const app = await build(t, { settings: BATCHED })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ program: [{ op: 'repeat', count: 300, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }], ...RULED })
  const obs = await Promise.all([0, 1, 2].map(async () => await WsClient.open(url, TOKENS.observerA)))
  const subscribed = await Promise.all(obs.map(async o => await o.request({ type: 'subscribe', vm, role: 'observer' })))
  await rest.act(vm, 'start')
  for (const o of obs) await o.next(m => m.vm === vm && m.type === 'state' && m.state === 'stopped')
  const first = seqsOf(obs[0] as WsClient, vm)
  t.equal(first[0], (subscribed[0]?.seq as number) + 1, 'from the event after subscribed')
  t.equal(first.length, 2 + 2 * 300, 'running, 300 exits and their decisions, stopped')
  contiguous(t, first, 'observer 1')
  for (const o of obs.slice(1)) t.same(seqsOf(o, vm), first, 'the same for every observer')
  await Promise.all(obs.map(async o => { await o.close() }))
})

void t.test('an observer joining, leaving, taking "*" or a controller role mid-stream: no event lost or repeated', async t => {
  const app = await build(t, { settings: BATCHED })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ program: EXIT_FOREVER, ...RULED })
  const other = await rest.createVm({ program: EXIT_FOREVER })
  const steady = await WsClient.open(url, TOKENS.observerA)
  await steady.request({ type: 'subscribe', vm, role: 'observer' })
  await rest.act(vm, 'start')
  const enough = async (c: WsClient, n: number): Promise<void> => { const have = seqsOf(c, vm).length; await until(() => seqsOf(c, vm).length >= have + n, `${n} more events`) }
  await enough(steady, 50)

  // Joins mid-stream: from the event after its subscribed, nothing before.
  const late = await WsClient.open(url, TOKENS.observerA)
  const sub = await late.request({ type: 'subscribe', vm, role: 'observer' })
  await enough(late, 50)
  t.equal(seqsOf(late, vm)[0], (sub.seq as number) + 1, 'the late observer starts right after its subscribed')

  // Resubscribes with since while its batch holds events: none comes twice.
  await late.request({ type: 'subscribe', vm, role: 'observer', since: sub.seq as number })
  await enough(late, 50)

  // Takes "*": the VM's events now come through it, none twice, none missing.
  const star = await WsClient.open(url, TOKENS.observerA)
  await star.request({ type: 'subscribe', vm, role: 'observer' })
  await enough(star, 50)
  await star.request({ type: 'subscribe', vm: '*', role: 'observer' })
  await enough(star, 50)

  // Takes a controller role on another VM: its observed VM's events come on, as they come.
  const ctl = await WsClient.open(url, TOKENS.operatorA)
  await ctl.request({ type: 'subscribe', vm, role: 'observer' })
  await enough(ctl, 50)
  await ctl.request({ type: 'subscribe', vm: other, role: 'controller' })
  await enough(ctl, 50)

  // Unsubscribes mid-batch: every event published before it, then nothing.
  const leaving = await WsClient.open(url, TOKENS.observerA)
  await leaving.request({ type: 'subscribe', vm, role: 'observer' })
  await enough(leaving, 50)
  const ack = await leaving.request({ type: 'unsubscribe', vm })
  const atAck = leaving.frames.indexOf(ack)
  const last = seqsOf(leaving, vm).at(-1) as number
  await enough(steady, 100)
  t.equal(leaving.frames.slice(atAck + 1).filter(m => m.vm === vm).length, 0, 'nothing of the VM after the unsubscribe ack')
  t.ok(seqsOf(steady, vm).includes(last + 1), 'the VM went on past what the leaver got')

  await rest.act(vm, 'stop')
  await steady.next(m => m.vm === vm && m.type === 'state' && m.state === 'stopped')
  for (const [c, name] of [[steady, 'from the start'], [late, 'joined late, resubscribed with since'], [star, 'then "*"'], [ctl, 'then a controller'], [leaving, 'until it unsubscribed']] as const) {
    contiguous(t, seqsOf(c, vm), name)
  }
  const all = seqsOf(steady, vm)
  t.same(seqsOf(star, vm), all.slice(all.indexOf(seqsOf(star, vm)[0] as number)), '"*" ends where the steady observer does')
  await Promise.all([steady, late, star, ctl, leaving].map(async c => { await c.close() }))
})

void t.test('a VM deleted while observed in batches: each observer gets every event up to the deletion, then its subscription is gone', async t => {
  const app = await build(t, { settings: BATCHED })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ program: EXIT_FOREVER, ...RULED })
  const obs = await Promise.all([0, 1].map(async () => await WsClient.open(url, TOKENS.observerA)))
  for (const o of obs) await o.request({ type: 'subscribe', vm, role: 'observer' })
  await rest.act(vm, 'start')
  await until(() => seqsOf(obs[0] as WsClient, vm).length > 50, 'events')
  const r = await app.inject({ method: 'DELETE', url: `/v1/vms/${vm}`, headers: { authorization: `Bearer ${TOKENS.operatorA}` } })
  t.equal(r.statusCode, 204)
  for (const o of obs) {
    const gone = await o.next(m => m.vm === vm && m.type === 'state' && m.state === 'deleted')
    contiguous(t, seqsOf(o, vm), 'up to the deletion')
    t.equal(seqsOf(o, vm).at(-1), gone.seq, 'the deletion is the last')
  }
  await until(() => stats(app).subscriptions === 0, 'the subscriptions dropped')
  await Promise.all(obs.map(async o => { await o.close() }))
})

void t.test('an observer of a group that stops reading is closed with 1013; the others of its VM go on with every event', async t => {
  const app = await build(t, { settings: { stream: { observerFlushMs: 5, maxBufferedBytes: 256 * 1024 } } })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ program: EXIT_FOREVER, ...RULED })
  const slow = await WsClient.open(url, TOKENS.observerA)
  const good = await WsClient.open(url, TOKENS.observerA)
  await slow.request({ type: 'subscribe', vm, role: 'observer' })
  await good.request({ type: 'subscribe', vm, role: 'observer' })
  slow.ws.pause()
  await rest.act(vm, 'start')
  await until(() => stats(app).slowClosed >= 1, 'the slow observer to be closed', 15_000)
  const have = seqsOf(good, vm).length
  await until(() => seqsOf(good, vm).length >= have + 200, 'the other observer to go on')
  await rest.act(vm, 'stop')
  await good.next(m => m.vm === vm && m.type === 'state' && m.state === 'stopped')
  contiguous(t, seqsOf(good, vm), 'the observer that kept reading')
  t.equal(stats(app).sockets, 1, 'the slow one is gone')
  slow.ws.resume()
  t.equal((await slow.closed()).code, 1013)
  await good.close()
})

// docs/spec/api-v1.md "Guarantees": a slow observer never slows a VM or another client. Past a bounded
// buffer it is closed with 1013 and may come back with `since`.
import t from 'tap'
import { build, TOKENS } from '../helper.js'
import { Rest } from '../stream/rest.js'
import { listen, stats, until, WsClient } from '../stream/ws-client.js'

// Room for the replay below (a few hundred events of the controlled VM) in one write.
const LIMIT = 256 * 1024
const EVENT = new Set(['exit', 'decided', 'state'])

void t.test('an observer that stops reading is closed with 1013 while the controller keeps deciding and the VMs keep running', async t => {
  const app = await build(t, {
    limits: { journalEvents: 100_000 },
    settings: { stream: { maxBufferedBytes: LIMIT } }
  })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const controlled = await rest.createVm()
  // A second VM decided by rule floods the observer's socket quickly.
  const flood = await rest.createVm({ policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] } })

  const ctl = await WsClient.open(url, TOKENS.operatorA)
  let decided = 0
  ctl.ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { type: string, vm: string, exit: number }
    if (m.vm !== controlled) return
    if (m.type === 'exit') ctl.send({ type: 'decision', vm: controlled, exit: m.exit, action: 'resume' })
    if (m.type === 'decided') decided++
  })
  await ctl.request({ type: 'subscribe', vm: controlled, role: 'controller' })

  const slow = await WsClient.open(url, TOKENS.observerA)
  await slow.request({ type: 'subscribe', vm: '*', role: 'observer' })
  // Stops reading: the kernel's buffers fill, then the server's own.
  slow.ws.pause()
  await rest.act(controlled, 'start')
  await rest.act(flood, 'start')

  const t0 = Date.now()
  await until(() => stats(app).slowClosed >= 1, 'the slow observer to be closed', 15_000)
  t.comment(`closed after ${Date.now() - t0} ms`)
  t.equal(stats(app).sockets, 1, 'its session is gone at once; the controller\'s remains')

  // Everything else goes on after the close.
  const d0 = decided
  const v0 = await rest.vm(controlled)
  const f0 = await rest.vm(flood)
  await until(() => decided >= d0 + 200, 'the controller to keep deciding', 10_000)
  const v1 = await rest.vm(controlled)
  const f1 = await rest.vm(flood)
  t.ok((v1.counters.decisions ?? 0) > (v0.counters.decisions ?? 0), 'the controlled VM progresses')
  t.ok((f1.counters.exits ?? 0) > (f0.counters.exits ?? 0), 'the flooding VM progresses')
  t.equal(v1.state, 'running')
  t.equal(ctl.closeInfo, undefined, 'the controller was never closed')
  // Paused now, so that what the observer will replay stays within the socket's limit.
  await rest.act(controlled, 'pause')
  await rest.act(flood, 'pause')

  // The observer reads again: what was queued, then the close frame.
  slow.ws.resume()
  const closed = await slow.closed(10_000)
  t.equal(closed.code, 1013, 'try again later')
  t.match(closed.reason, /since/)
  const seen = slow.frames.filter(m => m.vm === controlled && EVENT.has(m.type)).map(m => m.seq as number)
  const last = seen.at(-1) ?? 0
  t.ok(seen.every((s, i) => i === 0 || s === (seen[i - 1] as number) + 1), 'what it got has no gap')

  // It comes back with since and misses nothing.
  const back = await WsClient.open(url, TOKENS.observerA)
  const sub = await back.request({ type: 'subscribe', vm: controlled, role: 'observer', since: last })
  t.equal(sub.type, 'subscribed')
  await back.next(m => m.type === 'ack')
  const replayed = back.frames.filter(m => m.vm === controlled && EVENT.has(m.type)).map(m => m.seq as number)
  t.comment(`replayed ${replayed.length} events`)
  t.equal(replayed[0], last + 1, 'the replay starts right after what it saw')
  t.ok(replayed.every((s, i) => s === last + 1 + i), 'and has no gap')

  await Promise.all([ctl.close(), back.close()])
})

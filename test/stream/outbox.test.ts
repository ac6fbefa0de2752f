// A controlling socket's frames (src/stream/outbox.ts, written straight to TCP): held until
// the end of the turn, and held longer (up to HOLD_MS since the last write) while the
// socket's tenant has vCPUs waiting for the CPU, so that a saturated server writes fewer,
// larger chunks; never held past a backlog's end, and all written when the socket drains.
import t from 'tap'
import { HOLD_MS, createOutbox } from '../../src/stream/outbox.js'
import type { ControlEvent } from '../../src/control/index.js'

/** One turn of the event loop: past the release queued at the end of the one before. */
const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(() => setImmediate(resolve))) }

function rig (): { writes: string[], clock: { now: number }, backlog: { on: boolean }, outbox: ReturnType<typeof createOutbox>, event: (n: number) => void } {
  const writes: string[] = []
  const clock = { now: 1000 }
  const backlog = { on: false }
  const socket = { readyState: 1, bufferedAmount: 0, send: () => { throw new Error('a raw outbox writes to its transport') } }
  const outbox = createOutbox(socket, {
    maxBufferedBytes: 1 << 20,
    observerFlushMs: 0,
    observing: () => false,
    onOverflow: () => { throw new Error('no overflow expected') },
    backlogged: () => backlog.on,
    now: () => clock.now
  }, { write: (b: Buffer) => { writes.push(b.toString('latin1')) } })
  const event = (n: number): void => {
    const e: ControlEvent = { vm: 'vm_a', tenant: 'a', seq: n, type: 'exit', exit: n, frame: `{"seq":${n}}` }
    outbox.event(e)
  }
  return { writes, clock, backlog, outbox, event }
}

/** The seqs in each write, in order (each frame's text is {"seq":n}). */
const seqs = (writes: string[]): number[][] => writes.map(w => [...w.matchAll(/"seq":(\d+)/g)].map(m => Number(m[1])))

void t.test('without a backlog, each turn\'s frames leave at its end in one write', async t => {
  const { writes, event } = rig()
  event(1)
  event(2)
  t.same(writes, [], 'nothing leaves during the turn')
  await turn()
  event(3)
  await turn()
  t.same(seqs(writes), [[1, 2], [3]])
})

void t.test('while the tenant\'s vCPUs wait for the CPU, frames are held up to HOLD_MS since the last write', async t => {
  const { writes, clock, backlog, event } = rig()
  backlog.on = true
  event(1)
  await turn()
  t.same(seqs(writes), [[1]], 'the first write is not held: nothing was written within HOLD_MS')
  clock.now += HOLD_MS / 4
  event(2)
  await turn()
  event(3)
  await turn()
  await turn()
  t.same(seqs(writes), [[1]], 'within HOLD_MS of the last write, held over several turns')
  clock.now += HOLD_MS
  await turn()
  t.same(seqs(writes), [[1], [2, 3]], 'once HOLD_MS has passed, what was held leaves in one write, in order')
})

void t.test('held frames leave at the turn\'s end once the backlog is gone', async t => {
  const { writes, clock, backlog, event } = rig()
  backlog.on = true
  event(1)
  await turn()
  clock.now += HOLD_MS / 4
  event(2)
  await turn()
  t.same(seqs(writes), [[1]])
  backlog.on = false
  await turn()
  t.same(seqs(writes), [[1], [2]], 'the clock did not move: the backlog\'s end released them')
})

void t.test('a socket that drains writes what is held at once, backlog or not', async t => {
  const { writes, backlog, outbox, event } = rig()
  backlog.on = true
  event(1)
  await turn()
  event(2)
  outbox.drain()
  t.same(seqs(writes), [[1], [2]])
  await turn()
  t.same(seqs(writes), [[1], [2]], 'and nothing twice')
})

void t.test('afterWrite: called once per write of a controlling socket\'s frames (the hub polls for the answer then), never for an observer\'s batch', async t => {
  let calls = 0
  const writes: string[] = []
  const observing = { on: false }
  const outbox = createOutbox({ readyState: 1, bufferedAmount: 0, send: () => { throw new Error('raw') } }, {
    maxBufferedBytes: 1 << 20,
    observerFlushMs: 5,
    observing: () => observing.on,
    scheduleFlush: () => {},
    onOverflow: () => { throw new Error('no overflow expected') },
    afterWrite: () => { calls++ }
  }, { write: (b: Buffer) => { writes.push(b.toString('latin1')) } })
  const e = (n: number): ControlEvent => ({ vm: 'vm_a', tenant: 'a', seq: n, type: 'exit', exit: n, frame: `{"seq":${n}}` })
  outbox.event(e(1))
  outbox.event(e(2))
  t.equal(calls, 0, 'nothing written yet')
  await turn()
  t.equal(writes.length, 1)
  t.equal(calls, 1, 'one write, one call')
  observing.on = true
  outbox.event(e(3))
  outbox.flush()
  t.equal(writes.length, 2, 'the observer\'s batch was written')
  outbox.reply('{"type":"ack"}')
  await turn()
  t.equal(writes.length, 3, 'and a reply to it')
  t.equal(calls, 1, 'an observer is not waited on')

  // Through ws.send (an extension negotiated): the same, frame by frame.
  let wsCalls = 0
  const sent: unknown[] = []
  const wsObserving = { on: false }
  const ws = createOutbox({ readyState: 1, bufferedAmount: 0, send: (d: Buffer | string) => { sent.push(d) } }, {
    maxBufferedBytes: 1 << 20,
    observerFlushMs: 0,
    observing: () => wsObserving.on,
    onOverflow: () => { throw new Error('no overflow expected') },
    afterWrite: () => { wsCalls++ }
  })
  ws.event(e(1))
  t.equal(wsCalls, 1)
  wsObserving.on = true
  ws.event(e(2))
  t.equal(sent.length, 2)
  t.equal(wsCalls, 1)
})

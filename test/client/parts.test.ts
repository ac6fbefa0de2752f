// The stream's pure parts: reconnect delays, duplicate detection, the exits() queue and the
// event emitter.
import t from 'tap'
import fc from 'fast-check'
import { backoffDelay } from '../../src/client/backoff.js'
import { EventCursors } from '../../src/client/dedupe.js'
import { AsyncQueue } from '../../src/client/async-queue.js'
import { TypedEmitter } from '../../src/client/emitter.js'

void t.test('backoff grows by the factor, is capped, and jitters within [half, full] of the nominal delay', async (t) => {
  const opts = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 }
  t.equal(backoffDelay(0, opts, () => 0), 50)
  t.equal(backoffDelay(0, opts, () => 0.999999), 100)
  t.equal(backoffDelay(3, opts, () => 0), 400)
  t.equal(backoffDelay(10, opts, () => 0.999999), 1000, 'never past the cap')
  fc.assert(fc.property(fc.nat(60), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
    const d = backoffDelay(attempt, opts, () => r)
    const nominal = Math.min(1000, 100 * 2 ** attempt)
    return d >= Math.floor(nominal / 2) && d <= nominal
  }))
})

void t.test('dedupe: non-exit events at or below the last seq are duplicates', async (t) => {
  const c = new EventCursors()
  t.ok(c.accept({ vm: 'a', seq: 1, type: 'state' }))
  t.notOk(c.accept({ vm: 'a', seq: 1, type: 'state' }))
  t.ok(c.accept({ vm: 'a', seq: 3, type: 'decided', exit: 1 }))
  t.notOk(c.accept({ vm: 'a', seq: 2, type: 'state' }))
  t.ok(c.accept({ vm: 'b', seq: 2, type: 'state' }), 'every VM has its own seq')
})

void t.test('dedupe: exits are judged by id, so a pending exit older than the start is still new', async (t) => {
  const c = new EventCursors()
  c.startAt('a', 10)
  t.ok(c.accept({ vm: 'a', seq: 4, type: 'exit', exit: 2 }), 'a pending exit sent after subscribed')
  t.ok(c.accept({ vm: 'a', seq: 7, type: 'exit', exit: 3 }))
  t.equal(c.lastSeq('a'), 10, 'an older exit does not move the seq back')
  t.notOk(c.accept({ vm: 'a', seq: 7, type: 'exit', exit: 3 }), 'the same exit sent again')
  t.notOk(c.accept({ vm: 'a', seq: 9, type: 'state' }))
  t.ok(c.accept({ vm: 'a', seq: 11, type: 'exit', exit: 4 }))
  t.equal(c.lastSeq('a'), 11)
  c.resumeFrom('b', 5)
  t.equal(c.lastSeq('b'), 5)
  t.notOk(c.accept({ vm: 'b', seq: 5, type: 'state' }))
  t.equal(c.lastSeq('nobody'), undefined)
})

void t.test('dedupe: a stream with repeats delivers each event exactly once, in order', async (t) => {
  // Model: the server's events 1..n; the client sees them with arbitrary repeats of earlier ones.
  t.doesNotThrow(() => fc.assert(fc.property(fc.array(fc.nat(30), { maxLength: 60 }), (choices) => {
    const c = new EventCursors()
    const delivered: number[] = []
    let high = 0
    for (const choice of choices) {
      // Either the next new event, or a replay of one already sent.
      const seq = choice % 3 === 0 || high === 0 ? ++high : 1 + (choice % high)
      const type = seq % 2 === 0 ? 'exit' : 'state'
      if (c.accept({ vm: 'v', seq, type, exit: seq })) delivered.push(seq)
    }
    return delivered.length === high && delivered.every((s, i) => s === i + 1)
  })))
})

void t.test('queue: hands items to waiting readers, buffers the rest, drops the oldest past the limit', async (t) => {
  const q = new AsyncQueue<number>(2)
  const waiting = q.next()
  q.push(1)
  t.same(await waiting, { value: 1, done: false })
  q.push(2); q.push(3); q.push(4)
  t.equal(q.size, 2)
  t.equal(q.dropped, 1)
  t.same(await q.next(), { value: 3, done: false })
  q.end()
  q.push(5)
  t.same(await q.next(), { value: 4, done: false }, 'buffered items drain after end')
  t.same(await q.next(), { value: undefined, done: true })
  const off = new AsyncQueue<number>(0)
  off.push(1)
  t.equal(off.dropped, 1, 'a zero limit buffers nothing')
})

void t.test('queue: ending with an error rejects waiting and later readers', async (t) => {
  const q = new AsyncQueue<number>()
  const waiting = q.next()
  q.end(new Error('boom'))
  q.end(new Error('ignored'))
  await t.rejects(waiting, { message: 'boom' })
  await t.rejects(q.next(), { message: 'boom' })
})

void t.test('emitter: on, once, off and an error event with no listener that does not throw', async (t) => {
  class E extends TypedEmitter<{ x: number, error: Error }> {
    fire (n: number): void { this.emit('x', n) }
    fail (): void { this.emit('error', new Error('no one listens')) }
  }
  const e = new E()
  const seen: number[] = []
  const listener = (n: number): void => { seen.push(n) }
  e.on('x', listener)
  e.once('x', (n) => seen.push(n * 10))
  e.fire(1)
  e.fire(2)
  e.off('x', listener)
  e.fire(3)
  t.same(seen, [1, 10, 2])
  t.equal(e.listenerCount('x'), 0)
  t.doesNotThrow(() => e.fail())
})

// The answer poll with a fake clock and a fake event loop: when it polls, for how long,
// and how its window moves with how soon answers come (as KVM's halt polling does).
import t from 'tap'
import { AnswerPoll, POLL_GROW_START_US } from '../../src/stream/poll.js'

function fakeLoop (): { now: number, queued: Array<() => void>, timer: { now: () => number, next: (fn: () => void) => void }, turn: (advanceUs: number) => void, spin: () => number } {
  const loop = {
    now: 0,
    queued: [] as Array<() => void>,
    timer: { now: () => loop.now, next: (fn: () => void) => { loop.queued.push(fn) } },
    /** One turn of the loop: time passes, then what was queued runs. */
    turn: (advanceUs: number) => {
      loop.now += advanceUs / 1000
      const q = loop.queued
      loop.queued = []
      for (const fn of q) fn()
    },
    /** Turns of 1 µs until nothing is queued; how many µs it polled. */
    spin: () => { let us = 0; while (loop.queued.length > 0) { loop.turn(1); us++ } return us }
  }
  return loop
}

/** A round trip: frames sent, the answer heard `afterUs` later (the loop polling meanwhile, if it does). */
function roundTrip (p: AnswerPoll, loop: ReturnType<typeof fakeLoop>, afterUs: number): void {
  p.sent()
  for (let i = 0; i < afterUs; i++) loop.turn(1)
  p.heard()
}

void t.test('off (0): never polls', async t => {
  const loop = fakeLoop()
  const p = new AnswerPoll(0, loop.timer)
  for (let i = 0; i < 5; i++) roundTrip(p, loop, 20)
  t.equal(p.windowUs, 0)
  t.equal(loop.queued.length, 0)
})

void t.test('fast answers: the window grows from 10 µs, doubling, to the most and no further; it polls that long after the last frames, then stops', async t => {
  const loop = fakeLoop()
  const p = new AnswerPoll(200, loop.timer)
  roundTrip(p, loop, 190)
  t.equal(p.windowUs, POLL_GROW_START_US, 'an answer within the most, with no window yet: it starts at 10 µs')
  const seen: number[] = []
  for (let i = 0; i < 6; i++) { roundTrip(p, loop, 190); seen.push(p.windowUs) }
  t.same(seen, [20, 40, 80, 160, 200, 200], 'doubled each time the answer came after the window, never past 200 µs')
  roundTrip(p, loop, 150)
  t.equal(p.windowUs, 200, 'then unchanged while answers come within it')
  // Frames sent, no answer: it polls for the window, then lets the loop sleep.
  loop.spin()
  p.sent()
  t.ok(p.isPolling)
  const polled = loop.spin()
  t.ok(polled >= 199 && polled <= 201, `polled ${polled} µs`)
  t.notOk(p.isPolling)
})

void t.test('an answer within the window leaves it; later than the most halves it, down to no polling at all', async t => {
  const loop = fakeLoop()
  const p = new AnswerPoll(200, loop.timer)
  for (let i = 0; i < 10; i++) roundTrip(p, loop, 190)
  t.equal(p.windowUs, 200)
  roundTrip(p, loop, 30)
  t.equal(p.windowUs, 200, 'answered while polling: unchanged')
  const seen: number[] = []
  for (let i = 0; i < 10; i++) {
    p.sent()
    loop.spin()
    loop.turn(5000) // a person, or a slow client, answers 5 ms later
    p.heard()
    seen.push(p.windowUs)
  }
  t.same(seen, [100, 50, 25, 12, 6, 3, 1, 0, 0, 0])
  p.sent()
  t.notOk(p.isPolling, 'with a window of 0 it does not poll at all')
  t.equal(loop.queued.length, 0)
})

void t.test('frames sent again while polling move the deadline instead of starting a second poll', async t => {
  const loop = fakeLoop()
  const p = new AnswerPoll(100, loop.timer)
  for (let i = 0; i < 8; i++) roundTrip(p, loop, 90)
  t.equal(p.windowUs, 100)
  loop.spin()
  p.sent()
  for (let i = 0; i < 50; i++) loop.turn(1)
  p.sent()
  t.equal(loop.queued.length, 1, 'one poll chain')
  const polled = loop.spin()
  t.ok(polled >= 99 && polled <= 101, `polled ${polled} µs past the second send`)
})

void t.test('a message heard with no frames sent before it moves nothing', async t => {
  const loop = fakeLoop()
  const p = new AnswerPoll(200, loop.timer)
  p.heard()
  loop.turn(10_000)
  p.heard()
  t.equal(p.windowUs, 0)
})

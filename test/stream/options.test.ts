// Small pure parts of the stream: options, subprotocol choice, frames.
import t from 'tap'
import { DEFAULT_STREAM_OPTIONS, streamOptions } from '../../src/stream/options.js'
import { offersStreamProtocol, selectProtocol } from '../../src/stream/protocol.js'
import { errorFrame, eventBytes, subscribedFrame } from '../../src/stream/frames.js'
import { observerBatchMs } from '../../src/stream/hub.js'
import type { ControlEvent } from '../../src/control/index.js'

void t.test('options: defaults overlaid in order, undefined ignored', async t => {
  t.same(streamOptions(), DEFAULT_STREAM_OPTIONS)
  t.same(streamOptions({ heartbeatMs: 5 }, undefined, { heartbeatMs: undefined, maxSubscriptions: 3 }),
    { ...DEFAULT_STREAM_OPTIONS, heartbeatMs: 5, maxSubscriptions: 3 })
})

void t.test('the accepted subprotocol is faultline.v1, never a bearer token', async t => {
  t.equal(selectProtocol(new Set(['bearer.secret', 'faultline.v1'])), 'faultline.v1')
  t.equal(selectProtocol(new Set(['bearer.secret'])), false)
})

void t.test('an upgrade may offer no subprotocol, or must offer faultline.v1 among them', async t => {
  t.ok(offersStreamProtocol(undefined), 'none offered')
  t.ok(offersStreamProtocol('bearer.secret, faultline.v1'))
  t.ok(offersStreamProtocol('faultline.v1'))
  t.notOk(offersStreamProtocol('bearer.secret'))
  t.notOk(offersStreamProtocol('faultline.v10, xfaultline.v1'), 'whole names only')
})

void t.test('frames: fixed key order; an event is encoded once for every subscriber', async t => {
  t.equal(subscribedFrame(undefined, 'v', 'observer', 3), '{"type":"subscribed","vm":"v","role":"observer","seq":3}')
  t.equal(errorFrame('CONFLICT', 'm', { id: 1, vm: 'v', exit: 2 }), '{"type":"error","id":1,"code":"CONFLICT","message":"m","vm":"v","exit":2}')
  t.equal(errorFrame('CONFLICT', 'm'), '{"type":"error","code":"CONFLICT","message":"m"}')
  const e: ControlEvent = { vm: 'v', tenant: 't', seq: 1, type: 'state', frame: '{"type":"state"}' }
  const b = eventBytes(e)
  t.equal(eventBytes(e), b, 'the same Buffer')
  t.equal(b.toString(), e.frame)
  const e2 = { ...e, seq: 2, frame: '{"type":"state","seq":2}' }
  t.equal(eventBytes(e2).toString(), e2.frame, 'the next event gets its own bytes')
})

void t.test('observer batches: the configured period with few sockets waiting; with many, long enough that all of them together get at most about 10,000 writes a second', async t => {
  t.equal(observerBatchMs(5, 1), 5)
  t.equal(observerBatchMs(5, 50), 5)
  t.equal(observerBatchMs(5, 1000), 100)
  for (const waiting of [60, 100, 1000, 5000]) {
    const writesPerSecond = waiting * 1000 / observerBatchMs(5, waiting)
    t.ok(writesPerSecond <= 10_000 + 1e-6, `${waiting} sockets: ${writesPerSecond} writes/s`)
  }
})

// Frames the stream writes itself must be exactly what a WebSocket client reads, and an
// observing socket's batches must never reorder what the socket is sent.
import t from 'tap'
import type { EventEmitter } from 'node:events'
import * as wsModule from 'ws'
import { frameLength, framesOf, textFrameOf } from '../../src/stream/wire.js'
import type { RawTransport } from '../../src/stream/wire.js'
import { Control } from '../../src/control/index.js'
import { ControllerRegistry } from '../../src/stream/controllers.js'
import { streamOptions } from '../../src/stream/options.js'
import { Session } from '../../src/stream/session.js'
import type { StreamSocket } from '../../src/stream/session.js'
import { opA } from '../control/fixtures.js'

// ws's own frame parser (exported at runtime, not in its types).
const { Receiver } = wsModule as unknown as { Receiver: new (o: object) => EventEmitter & { write (b: Buffer): void } }

/** Decodes frames as a client does (server frames are unmasked). */
function decode (bytes: Buffer): string[] {
  const out: string[] = []
  const r = new Receiver({ isServer: false, maxPayload: 0 })
  r.on('message', (data: Buffer) => { out.push(data.toString()) })
  r.write(bytes)
  return out
}

void t.test('textFrameOf: every length encoding reads back through ws, multi-byte text included', async t => {
  for (const n of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    const text = 'a'.repeat(n)
    t.same(decode(textFrameOf(text)), [text], `${n} bytes`)
  }
  // Lengths are in bytes, not characters: 42 characters here are 125 and 126 bytes.
  for (const text of ['é'.repeat(41) + 'abc', 'é'.repeat(41) + 'abcd', '→ vm 名前 ✓', '😀'.repeat(20000)]) {
    t.same(decode(textFrameOf(text)), [text], `${Buffer.byteLength(text)} bytes of UTF-8`)
  }
})

void t.test('framesOf: texts framed and frames copied, in order, in one Buffer that reads back through ws', async t => {
  const texts = ['', 'a'.repeat(125), 'é'.repeat(41) + 'abcd', '→ vm 名前 ✓', 'b'.repeat(65536), '😀'.repeat(20000)]
  const made = textFrameOf('{"type":"made"}')
  const items: Array<string | Buffer> = [texts[0] as string, made, ...texts.slice(1), made]
  const payload = items.map(i => typeof i === 'string' ? Buffer.byteLength(i) : i.length)
  const total = items.reduce<number>((sum, i, k) => sum + (typeof i === 'string' ? frameLength(payload[k] as number) : i.length), 0)
  const out = framesOf(items, payload, total)
  t.equal(out.length, total, 'exactly the frames\' bytes')
  t.same(decode(out), items.map(i => typeof i === 'string' ? i : '{"type":"made"}'))
})

class Raw implements RawTransport {
  readonly writes: Buffer[] = []
  write (b: Buffer): void { this.writes.push(b) }
  get text (): string[] { return decode(Buffer.concat(this.writes)) }
}

const socket = (): StreamSocket => ({ readyState: 1, bufferedAmount: 0, send () { throw new Error('raw path expected') }, close () {}, terminate () {}, ping () {} })
/** Past the end of the event-loop turn that is under way (the outbox releases what it holds there). */
const turnEnd = (): Promise<void> => new Promise(resolve => { setImmediate(() => { setImmediate(resolve) }) })

const PROGRAM = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }]

void t.test('an observing socket gets events in batches; a reply flushes the batch first', async t => {
  const control = new Control()
  const vm = control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: PROGRAM }).id
  const raw = new Raw()
  let scheduled = 0
  const s = new Session(socket(), opA, {
    control, controllers: new ControllerRegistry<Session>(), options: streamOptions({ version: 't' }), scheduleFlush: () => { scheduled++ }
  }, raw)
  s.start()
  s.onFrame(Buffer.from(JSON.stringify({ type: 'subscribe', vm, role: 'observer' })), false)
  const before = raw.writes.length
  control.act(opA, vm, 'start')
  control.act(opA, vm, 'pause')
  t.equal(raw.writes.length, before, 'events wait for the batch')
  t.equal(scheduled, 1, 'one flush asked for both')
  s.onFrame(Buffer.from(JSON.stringify({ id: 'u', type: 'unsubscribe', vm: 'other' })), false)
  await turnEnd()
  const types = raw.text.map(m => (JSON.parse(m) as { type: string, state?: string }))
  t.same(types.map(m => m.type), ['hello', 'subscribed', 'state', 'state', 'ack'], 'the batch, then the reply')
  t.equal(s.takeBatch(), undefined, 'nothing left')
  control.close()
})

void t.test('a controlling socket gets each event at once, one write per event-loop turn', async t => {
  const control = new Control()
  const vm = control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: PROGRAM }).id
  const raw = new Raw()
  const s = new Session(socket(), opA, {
    control, controllers: new ControllerRegistry<Session>(), options: streamOptions({ version: 't' }), scheduleFlush: () => { throw new Error('no batching for a controller') }
  }, raw)
  s.start()
  await turnEnd()
  s.onFrame(Buffer.from(JSON.stringify({ type: 'subscribe', vm, role: 'controller' })), false)
  await turnEnd()
  const writes = raw.writes.length
  control.act(opA, vm, 'start')
  await new Promise(resolve => process.nextTick(resolve))
  control.act(opA, vm, 'pause')
  t.equal(raw.writes.length, writes, 'across ticks of the same turn: nothing written yet')
  await turnEnd()
  t.equal(raw.writes.length, writes + 1, 'both events in one write at the end of the turn')
  t.same(raw.text.map(m => (JSON.parse(m) as { type: string }).type), ['hello', 'subscribed', 'state', 'state'])
  control.close()
})

void t.test('a session ended by the server writes what it holds before its close frame', async t => {
  const control = new Control()
  const vm = control.createVm(opA, { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: PROGRAM }).id
  const raw = new Raw()
  const order: string[] = []
  const sock: StreamSocket = { ...socket(), close (code: number) { order.push(`close ${code} after ${raw.text.length} frames`) } }
  const s = new Session(sock, opA, {
    control, controllers: new ControllerRegistry<Session>(), options: streamOptions({ version: 't' }), scheduleFlush: () => {}
  }, raw)
  s.start()
  await turnEnd()
  s.onFrame(Buffer.from(JSON.stringify({ type: 'subscribe', vm, role: 'controller' })), false)
  control.act(opA, vm, 'start')
  control.act(opA, vm, 'pause')
  s.end(1001, 'server shutting down')
  t.same(order, ['close 1001 after 4 frames'], 'the held frames went first')
  t.same(raw.text.map(m => (JSON.parse(m) as { type: string }).type), ['hello', 'subscribed', 'state', 'state'])
  await turnEnd()
  t.equal(raw.text.length, 4, 'nothing is written after the close frame')
  control.close()
})

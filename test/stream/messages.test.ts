// Client frames are checked against the contract's schemas before anything acts on them.
import t from 'tap'
import { parseClientMessage } from '../../src/stream/messages.js'

const text = (s: string): Buffer => Buffer.from(s)

void t.test('a well-formed message of each type parses', async t => {
  const ok = [
    { type: 'subscribe', vm: 'vm_1', role: 'controller', since: 3, takeover: true, id: 'a' },
    { type: 'subscribe', vm: '*', role: 'observer' },
    { type: 'unsubscribe', vm: 'vm_1', id: 7 },
    { type: 'decision', vm: 'vm_1', exit: 4, action: 'resume', ret: -22, data: [1, 2], reason: 'ok' }
  ]
  for (const m of ok) t.same(parseClientMessage(text(JSON.stringify(m)), false), { ok: true, message: m })
  // ws hands over fragments or ArrayBuffers depending on binaryType.
  const m = { type: 'unsubscribe', vm: 'x' }
  const b = text(JSON.stringify(m))
  t.same(parseClientMessage([b.subarray(0, 5), b.subarray(5)], false), { ok: true, message: m })
  const ab = new ArrayBuffer(b.length)
  new Uint8Array(ab).set(b)
  t.same(parseClientMessage(ab, false), { ok: true, message: m })
})

void t.test('anything else is refused with a reason, echoing the id only when it is a valid id', async t => {
  t.match(parseClientMessage(text('{"type":"unsubscribe","vm":"x"}'), true), { ok: false, reason: /binary/ })
  t.match(parseClientMessage(text('{'), false), { ok: false, reason: /not valid JSON/ })
  t.match(parseClientMessage(text('[]'), false), { ok: false, reason: /JSON object/ })
  t.match(parseClientMessage(text('"x"'), false), { ok: false, reason: /JSON object/ })
  t.match(parseClientMessage(text('{"type":"nope","id":"q"}'), false), { ok: false, id: 'q', reason: /unknown or missing "type"/ })
  t.match(parseClientMessage(text('{"type":"toString"}'), false), { ok: false, reason: /unknown/ }, 'an inherited name is not a type')
  t.match(parseClientMessage(text('{"id":1}'), false), { ok: false, id: 1 })
  const badId = parseClientMessage(text('{"type":"nope","id":{"a":1}}'), false)
  t.notOk('id' in badId, 'an object id is not echoed')
  t.notOk('id' in parseClientMessage(text(`{"type":"nope","id":"${'x'.repeat(129)}"}`), false), 'nor an over-long one')
  t.match(parseClientMessage(text('{"type":"decision","vm":"v","exit":1,"action":"resume","force":1,"__proto__":2}'), false),
    { ok: false, reason: /unknown fields "force", "__proto__"|unknown fields "__proto__", "force"/ })
  t.match(parseClientMessage(text('{"type":"decision","vm":"v","exit":1e300,"action":"resume"}'), false), { ok: false, reason: /invalid decision: exit must be <=/ })
  t.match(parseClientMessage(text('{"type":"subscribe","vm":"v"}'), false), { ok: false, reason: /invalid subscribe: message must have/ })
  t.equal(({} as Record<string, unknown>).force, undefined)
})

// The API documents as clients read them: /asyncapi.json describes every frame a real
// stream session carries (so it cannot drift from what the server sends), and every
// /openapi.json operation has what client generators need.
import t from 'tap'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { build, TOKENS } from '../helper.js'
import { Rest } from '../stream/rest.js'
import { listen, WsClient } from '../stream/ws-client.js'
import type { Msg } from '../stream/ws-client.js'

type Json = Record<string, unknown>
interface Checker { Check (value: unknown): boolean, Errors (value: unknown): unknown[] }

/** Follows `$ref`s (local JSON pointers) until a node without one. */
function deref (doc: Json, node: unknown): Json {
  let n = node as Json
  while (typeof n.$ref === 'string') {
    const path = n.$ref.replace(/^#\//, '').split('/').map(p => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    n = path.reduce<Json>((at, key) => at[key] as Json, doc)
    if (n === undefined) throw new Error(`dangling $ref ${String((node as Json).$ref)}`)
  }
  return n
}

/** The operation's message checkers by frame type (each payload's `type` const). */
function checkers (doc: Json, operation: string): Map<string, Checker> {
  const op = (doc.operations as Record<string, Json>)[operation] as Json
  const out = new Map<string, Checker>()
  for (const ref of op.messages as Json[]) {
    const payload = deref(doc, deref(doc, ref).payload)
    if (JSON.stringify(payload).includes('"$ref"')) throw new Error('nested $ref: resolve it here too')
    const type = ((payload.properties as Json).type as Json).const as string
    out.set(type, Compile(payload as TSchema) as Checker)
  }
  return out
}

void t.test('/asyncapi.json is public and AsyncAPI 3.0.0: the stream channel, send and receive, both ways to authenticate', async t => {
  const app = await build(t)
  const r = await app.inject({ url: '/asyncapi.json' })
  t.equal(r.statusCode, 200, 'no token needed')
  const doc = r.json() as Json
  t.equal(doc.asyncapi, '3.0.0')
  t.equal((doc.info as Json).version, '0.0.0-test')
  const channels = doc.channels as Record<string, Json>
  t.same(Object.values(channels).map(c => c.address), ['/v1/stream'])
  const ops = Object.values(doc.operations as Record<string, Json>)
  t.same(ops.map(o => o.action).sort(), ['receive', 'send'])
  t.same([...checkers(doc, 'sendClientMessage').keys()].sort(), ['decision', 'subscribe', 'unsubscribe'])
  t.same([...checkers(doc, 'receiveServerMessage').keys()].sort(),
    ['ack', 'decided', 'error', 'exit', 'hello', 'revoked', 'state', 'subscribed'])
  const server = Object.values(doc.servers as Record<string, Json>)[0] as Json
  t.equal(server.protocol, 'ws')
  const schemes = (server.security as Json[]).map(s => deref(doc, s))
  t.match(schemes, [{ type: 'http', scheme: 'bearer' }, { type: 'httpApiKey', in: 'header', name: 'Sec-WebSocket-Protocol', description: /faultline\.v1.*bearer\.<token>/ }])
})

void t.test('every frame of a real stream session, both ways, matches its AsyncAPI message schema', async t => {
  const app = await build(t)
  const doc = (await app.inject({ url: '/asyncapi.json' })).json() as Json
  const send = checkers(doc, 'sendClientMessage')
  const receive = checkers(doc, 'receiveServerMessage')
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  // Hypercalls and IO (tdx-boot), memory faults (implicit-conversions): the exit payloads.
  const boot = await rest.createVm({ type: 'tdx', memory: { size_mib: 2048 }, program: undefined, preset: 'tdx-boot' })
  const faults = await rest.createVm({ type: 'tdx', memory: { size_mib: 64 }, program: undefined, preset: 'implicit-conversions' })

  const sent: Json[] = []
  const a = await WsClient.open(url, TOKENS.operatorA)
  const request = async (c: WsClient, m: Json): Promise<Msg> => { sent.push(m); return await c.request(m) }
  t.equal((await request(a, { type: 'subscribe', id: 'sub-boot', vm: boot, role: 'controller' })).type, 'subscribed')
  t.equal((await request(a, { type: 'subscribe', id: 7, vm: faults, role: 'controller' })).type, 'subscribed')
  await rest.act(boot, 'start')
  await rest.act(faults, 'start')

  // Decide exits until each payload kind has been seen: convert what asks for it, resume the rest.
  const payloads = new Set<string>()
  let last: Msg | undefined
  for (let i = 0; i < 40 && payloads.size < 3; i++) {
    const e = await a.next(m => m.type === 'exit')
    for (const p of ['hypercall', 'io', 'memory_fault']) if (e[p] !== undefined) payloads.add(p)
    const action = e.reason === 'KVM_EXIT_IO' ? 'resume' : 'convert'
    const reply = await request(a, { type: 'decision', id: `d${i}`, vm: e.vm, exit: e.exit, action, reason: 'api-docs test' })
    t.equal(reply.type, 'ack', `exit ${String(e.exit)} of ${String(e.vm)} decided`)
    await a.next(m => m.type === 'decided' && m.vm === e.vm && m.exit === e.exit)
    last = e
  }
  t.same([...payloads].sort(), ['hypercall', 'io', 'memory_fault'], 'hypercall, io and memory_fault exits seen')
  if (last === undefined) throw new Error('no exit')
  t.equal((await request(a, { type: 'decision', id: 'again', vm: last.vm, exit: last.exit, action: 'kill' })).type, 'error', 'deciding twice')

  // Another controller takes the VM over; the first is told, then leaves the other VM.
  const b = await WsClient.open(url, TOKENS.operatorA, { protocols: ['faultline.v1', `bearer.${TOKENS.operatorA}`] })
  t.equal((await request(b, { type: 'subscribe', vm: boot, role: 'controller', takeover: true })).type, 'subscribed')
  await a.next(m => m.type === 'revoked')
  t.equal((await request(a, { type: 'unsubscribe', id: 'bye', vm: faults })).type, 'ack')
  await a.close()
  await b.close()

  const seen = new Set<string>()
  for (const m of [...a.frames, ...b.frames]) {
    const check = receive.get(m.type)
    if (check === undefined) { t.fail(`no message in the document for a ${m.type} frame`); continue }
    seen.add(m.type)
    if (!check.Check(m)) t.fail(`${m.type} frame does not match its schema`, { frame: m, errors: check.Errors(m) })
  }
  t.same([...seen].sort(), [...receive.keys()].sort(), 'every server message kind was received and checked')
  for (const m of sent) {
    const check = send.get(m.type as string)
    t.ok(check?.Check(m), `${String(m.type)} as sent matches its schema`)
  }
  t.same(new Set(sent.map(m => m.type)), new Set(send.keys()), 'every client message kind was sent and checked')

  // The schemas are not vacuous: a frame with an unknown type or field fails them.
  const hello = a.frames[0] as Msg
  t.notOk(receive.get('hello')?.Check({ ...hello, type: 'helo' }))
  t.notOk(receive.get('hello')?.Check({ ...hello, extra: 1 }))
  t.notOk(send.get('subscribe')?.Check({ type: 'subscribe', vm: boot, role: 'boss' }))
})

void t.test('every /openapi.json operation has a unique camelCase operationId and its 4xx responses', async t => {
  const app = await build(t)
  const doc = (await app.inject({ url: '/openapi.json' })).json() as Json
  t.same((doc.servers as Json[]).map(s => s.url), ['/'], 'the server that serves the document')
  const ids: string[] = []
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`
      t.match(op.operationId, /^[a-z]+(?:[A-Z][a-z]*)*$/, `${where} has an operationId`)
      ids.push(op.operationId as string)
      const codes = Object.keys(op.responses as Json)
      // The probes take no input, need no token and are not rate limited: no 4xx can happen
      // (the same exception as .redocly.lint-ignore.yaml).
      if (path === '/healthz' || path === '/readyz') {
        t.same({ security: op.security, parameters: op.parameters, body: op.requestBody }, { security: [], parameters: undefined, body: undefined }, `${where} takes no input`)
      } else {
        t.ok(codes.some(c => c.startsWith('4')), `${where} documents its 4xx responses`)
      }
    }
  }
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique')
  t.ok(ids.includes('getAsyncApi') && ids.includes('openStream'))
  const stream = (doc.paths as Record<string, Record<string, Json>>)['/v1/stream']?.get
  t.match(stream?.description, /\/asyncapi\.json/, 'the stream operation points to the AsyncAPI document')
  t.same(Object.keys((stream?.responses ?? {}) as Json).sort(), ['101', '400', '401', '403', '429', '503'])
})

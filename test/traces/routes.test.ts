// The trace and replay routes: GET .../trace as NDJSON for anyone who may read the VM, POST
// /v1/replays for operators with the trace as it is, refused traces naming their line
// (nothing made), the body limit, and replays read back, listed and deleted.
import { request } from 'node:http'
import type { ClientRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { MAX_TRACE_UPLOADS, MAX_TRACE_UPLOADS_PER_TENANT } from '../../routes/traces.js'
import { bearer, build, TOKENS } from '../helper.js'
import { lines, text } from './helpers.js'

const NDJSON = { 'content-type': 'application/x-ndjson' }

async function recordedTrace (app: FastifyInstance, preset = 'tdx-boot', rounds = 500): Promise<{ vm: string, trace: string }> {
  const h = bearer(TOKENS.operatorA)
  const vm = (await app.inject({ method: 'POST', url: '/v1/vms', headers: h, payload: { type: 'tdx', vcpus: 1, preset, autostart: true } })).json<{ id: string }>().id
  for (let k = 0; k < rounds; k++) {
    await new Promise(resolve => setImmediate(resolve))
    const pending = (await app.inject({ method: 'GET', url: `/v1/vms/${vm}/exits?pending=true`, headers: h })).json<{ items: Array<{ exit: number, reason: string }> }>().items
    for (const e of pending) {
      const action = e.reason === 'KVM_EXIT_HYPERCALL' ? 'convert' : 'kill'
      await app.inject({ method: 'POST', url: `/v1/vms/${vm}/exits/${e.exit}/decision`, headers: h, payload: { action } })
    }
    if ((await app.inject({ method: 'GET', url: `/v1/vms/${vm}`, headers: h })).json<{ state: string }>().state !== 'running') break
  }
  const r = await app.inject({ method: 'GET', url: `/v1/vms/${vm}/trace`, headers: bearer(TOKENS.observerA) })
  return { vm, trace: r.body }
}

async function vmCount (app: FastifyInstance): Promise<number> {
  return (await app.inject({ method: 'GET', url: '/v1/vms', headers: bearer(TOKENS.operatorA) })).json<{ items: unknown[] }>().items.length
}

void t.test('GET trace: NDJSON, header first, end last; tenant-scoped', async t => {
  const app = await build(t)
  const { vm, trace } = await recordedTrace(app)
  const r = await app.inject({ method: 'GET', url: `/v1/vms/${vm}/trace`, headers: bearer(TOKENS.observerA) })
  t.equal(r.statusCode, 200)
  t.match(r.headers['content-type'], /^application\/x-ndjson/)
  const ls = lines(trace)
  t.match(ls[0], { t: 'header', format: 'faultline-trace/1', faultline: '0.0.0-test', vm: { id: vm, type: 'tdx', preset: 'tdx-boot' }, cut: null })
  t.match(ls[ls.length - 1], { t: 'end', lines: ls.length - 1, state: 'killed' })
  t.ok(ls.some(l => l.t === 'decision' && l.by === 'rest'), 'REST decisions are in it')
  const other = await app.inject({ method: 'GET', url: `/v1/vms/${vm}/trace`, headers: bearer(TOKENS.observerB) })
  t.equal(other.statusCode, 404)
  t.equal(other.json().code, 'FAULTLINE_VM_NOT_FOUND')
})

void t.test('POST /v1/replays: 201, then GET until passed; listed; deleted', async t => {
  const app = await build(t)
  const { trace } = await recordedTrace(app)
  const h = bearer(TOKENS.operatorA)
  const r = await app.inject({ method: 'POST', url: '/v1/replays?decide=recorded&name=again', headers: { ...h, ...NDJSON }, payload: trace })
  t.equal(r.statusCode, 201, r.body)
  const view = r.json<{ id: string, vm: string, state: string }>()
  t.match(view, { decide: 'recorded', on_divergence: 'stop', finished_at: null })
  let v = view
  for (let k = 0; k < 1000 && (v.state === 'running' || v.state === 'waiting'); k++) {
    await new Promise(resolve => setImmediate(resolve))
    v = (await app.inject({ method: 'GET', url: `/v1/replays/${view.id}`, headers: bearer(TOKENS.observerA) })).json()
  }
  t.equal(v.state, 'passed')
  t.equal((await app.inject({ method: 'GET', url: `/v1/vms/${view.vm}`, headers: h })).json().name, 'again')
  t.same((await app.inject({ method: 'GET', url: '/v1/replays', headers: h })).json().items.map((x: { id: string }) => x.id), [view.id])
  t.same((await app.inject({ method: 'GET', url: '/v1/replays', headers: bearer(TOKENS.operatorB) })).json().items, [])
  t.equal((await app.inject({ method: 'GET', url: `/v1/replays/${view.id}`, headers: bearer(TOKENS.operatorB) })).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/replays/${view.id}`, headers: bearer(TOKENS.observerA) })).statusCode, 403)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/replays/${view.id}`, headers: h })).statusCode, 204)
  const gone = await app.inject({ method: 'GET', url: `/v1/replays/${view.id}`, headers: h })
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().code, 'FAULTLINE_REPLAY_NOT_FOUND')
})

void t.test('bad traces: a clear 400 naming the line, and nothing made', async t => {
  const app = await build(t, { settings: { traceMaxBytes: 64 * 1024 } })
  const { trace } = await recordedTrace(app)
  const before = await vmCount(app)
  const ls = lines(trace)
  const post = async (body: string, headers: Record<string, string> = NDJSON): Promise<{ status: number, body: { code: string, line?: number, message: string } }> => {
    const r = await app.inject({ method: 'POST', url: '/v1/replays', headers: { ...bearer(TOKENS.operatorA), ...headers }, payload: body })
    return { status: r.statusCode, body: r.json() }
  }
  const cases: Array<[string, string, string, number | undefined]> = [
    ['a newer format', text([{ ...ls[0], format: 'faultline-trace/2' }, ...ls.slice(1)]), 'FAULTLINE_TRACE_VERSION', 1],
    ['not a trace format', text([{ ...ls[0], format: 'other/1' }, ...ls.slice(1)]), 'FAULTLINE_TRACE_INVALID', 1],
    ['a header that is not a VM', text([{ ...ls[0], vm: { ...(ls[0]?.vm as object), vcpus: 0 } }, ...ls.slice(1)]), 'FAULTLINE_TRACE_INVALID', 1],
    ['a first line that is no header', text(ls.slice(1)), 'FAULTLINE_TRACE_INVALID', 1],
    ['a preset this server lacks', text([{ ...ls[0], vm: { ...(ls[0]?.vm as object), preset: 'nope' } }, ...ls.slice(1)]), 'FAULTLINE_UNKNOWN_PRESET', 1],
    ['a cut head', text([{ ...ls[0], cut: { first_seq: 3, dropped: 2 } }, ...ls.slice(3)]), 'FAULTLINE_TRACE_INCOMPLETE', 1],
    ['a line cut short', trace.slice(0, trace.indexOf('\n', trace.indexOf('"t":"exit"')) - 5), 'FAULTLINE_TRACE_TRUNCATED', undefined],
    ['no end line', trace.slice(0, trace.lastIndexOf('{"t":"end"')), 'FAULTLINE_TRACE_TRUNCATED', ls.length],
    ['a line missing', text(ls).split('\n').filter((_l, k) => k !== 2).join('\n'), 'FAULTLINE_TRACE_TRUNCATED', ls.length - 1],
    ['a line that is not JSON', trace.replace('{"t":"input"', '{"t":input"'), 'FAULTLINE_TRACE_INVALID', undefined],
    ['a line of no kind', text([...ls.slice(0, 2), { t: 'what' }, ...ls.slice(2)]), 'FAULTLINE_TRACE_INVALID', 3],
    ['a bad input line', text([...ls.slice(0, 2), { t: 'input', op: 'run', vcpu: -1, budget: 5 }, ...ls.slice(2)]), 'FAULTLINE_TRACE_INVALID', 3],
    ['an end before the last line', text([...ls.slice(0, 2), { t: 'end', lines: 2, seq: 1, state: 'created' }, ...ls.slice(2)]), 'FAULTLINE_TRACE_INVALID', 3],
    ['an empty body', '\n', 'FAULTLINE_TRACE_INVALID', 1]
  ]
  for (const [what, body, code, line] of cases) {
    const r = await post(body)
    t.equal(r.status, 400, what)
    t.equal(r.body.code, code, `${what}: ${r.body.message}`)
    if (line !== undefined) t.equal(r.body.line, line, `${what}: line ${line}`)
    else t.type(r.body.line, 'number', `${what}: a line`)
    t.match(r.body.message, /^line \d+: /, `${what}: the message names the line`)
  }
  const big = await post(trace + ' '.repeat(64 * 1024))
  t.equal(big.status, 413)
  t.equal(big.body.code, 'FAULTLINE_PAYLOAD_TOO_LARGE')
  const json = await post(JSON.stringify({ trace }), { 'content-type': 'application/json' })
  t.equal(json.status, 415)
  const latin1 = await post(trace, { 'content-type': 'application/x-ndjson; charset=latin1' })
  t.equal(latin1.status, 415)
  const bytes = Buffer.concat([Buffer.from(ls.slice(0, 2).map(l => JSON.stringify(l) + '\n').join('')), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])])
  const r = await app.inject({ method: 'POST', url: '/v1/replays', headers: { ...bearer(TOKENS.operatorA), 'content-type': 'application/x-ndjson; charset=utf-8' }, payload: bytes })
  t.match(r.json(), { statusCode: 400, code: 'FAULTLINE_TRACE_INVALID', line: 3 }, 'bytes that are not UTF-8, on line 3')
  const observer = await app.inject({ method: 'POST', url: '/v1/replays', headers: { ...bearer(TOKENS.observerA), ...NDJSON }, payload: trace })
  t.equal(observer.statusCode, 403)
  t.equal(await vmCount(app), before, 'no VM was made')
})

void t.test('a journal that dropped the trace\'s head says where it was cut', async t => {
  const app = await build(t, { limits: { journalEvents: 16 } })
  const { trace } = await recordedTrace(app, 'conversion-storm', 40)
  const ls = lines(trace)
  t.match(ls[0], { cut: { first_seq: Number, dropped: Number } })
  t.ok(((ls[0]?.cut as { first_seq: number }).first_seq) > 1, 'the first kept seq is past creation')
  t.ok(ls.filter(l => l.t === 'exit' || l.t === 'decision' || l.t === 'state').length <= 16, 'at most journalEvents events')
  const r = await app.inject({ method: 'POST', url: '/v1/replays', headers: { ...bearer(TOKENS.operatorA), ...NDJSON }, payload: trace })
  t.equal(r.json().code, 'FAULTLINE_TRACE_INCOMPLETE')
})

void t.test('trace uploads at once are bounded (two in all, one per tenant): more get 503 before their body is read, and a slot frees when its upload ends or is dropped', async t => {
  t.equal(MAX_TRACE_UPLOADS, 2)
  t.equal(MAX_TRACE_UPLOADS_PER_TENANT, 1)
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  /** An upload that has sent its headers and one byte of its 1,000, and waits. */
  const upload = (token: string): { req: ClientRequest, answer: Promise<{ status: number, code?: string }> } => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/replays', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson', 'content-length': '1000' } })
    const answer = new Promise<{ status: number, code?: string }>((resolve) => {
      req.on('response', r => {
        let body = ''
        r.on('data', (d: Buffer) => { body += d.toString() })
        r.on('end', () => { resolve({ status: r.statusCode ?? 0, code: (JSON.parse(body || '{}') as { code?: string }).code }) })
      })
      req.on('error', () => { resolve({ status: 0 }) })
    })
    req.write('{')
    return { req, answer }
  }
  /** The answer to an upload that is answered before its body is sent (the rest of it never is). */
  const answerUnsent = async (token: string): Promise<{ status: number, code?: string }> => {
    const u = upload(token)
    t.teardown(() => { u.req.destroy() })
    return await u.answer
  }
  const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 100)) }
  const a = upload(TOKENS.operatorA)
  await settle()
  t.same(await answerUnsent(TOKENS.operatorA), { status: 503, code: 'FAULTLINE_OVERLOADED' }, 'a second upload of the same tenant is refused at once')
  const b = upload(TOKENS.operatorB)
  await settle()
  t.same(await answerUnsent(TOKENS.admin), { status: 503, code: 'FAULTLINE_OVERLOADED' }, 'a third tenant finds both slots taken')
  // A dropped upload frees its slot; a finished one (here refused as a bad trace) too.
  a.req.destroy()
  await settle()
  const ops2 = upload(TOKENS.admin)
  await settle()
  b.req.end('x'.repeat(999))
  t.equal((await b.answer).status, 400, 'the finished upload was read and answered')
  await settle()
  const a3 = upload(TOKENS.operatorA)
  a3.req.end('y'.repeat(999))
  t.equal((await a3.answer).status, 400, 'its slot went to the next upload')
  ops2.req.end('z'.repeat(999))
  t.equal((await ops2.answer).status, 400)
})

import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions } from '../../src/logger.js'
import { build, bearer, TOKENS } from '../helper.js'
import { Rest } from '../stream/rest.js'
import { listen, WsClient } from '../stream/ws-client.js'

void t.test('/healthz is alive; /readyz is 503 unless ready', async t => {
  const app = await build(t)
  t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok' })
  t.same((await app.inject({ url: '/readyz' })).json(), { status: 'ready' })
  for (const phase of ['starting', 'closing'] as const) {
    app.readiness.phase = phase
    const r = await app.inject({ url: '/readyz' })
    t.equal(r.statusCode, 503)
    t.match(r.json(), { code: 'FAULTLINE_NOT_READY', message: new RegExp(phase) })
  }
})

void t.test('/metrics needs an admin or metrics token and speaks Prometheus', async t => {
  const app = await build(t)
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401)
  await app.inject({ method: 'POST', url: '/v1/vms', headers: bearer(TOKENS.operatorA), payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 } } })
  const r = await app.inject({ url: '/metrics', headers: bearer(TOKENS.admin) })
  t.equal(r.statusCode, 200)
  t.match(r.headers['content-type'], /text\/plain/)
  t.match(r.body, /faultline_vms\{state="created",type="default"\} 1/)
  t.match(r.body, /faultline_pending_exits 0/)
  t.match(r.body, /faultline_stream_sockets 0/)
})

void t.test('/metrics counts the stream\'s sockets, subscriptions and controllers', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm({ vcpus: 1 })
  const ctl = await WsClient.open(url, TOKENS.operatorA)
  const obs = await WsClient.open(url, TOKENS.observerA)
  await ctl.request({ type: 'subscribe', vm, role: 'controller' })
  await obs.request({ type: 'subscribe', vm, role: 'observer' })
  await obs.request({ type: 'subscribe', vm: '*', role: 'observer' })
  const body = (await app.inject({ url: '/metrics', headers: bearer(TOKENS.admin) })).body
  t.match(body, /^faultline_stream_sockets 2$/m)
  t.match(body, /^faultline_stream_subscriptions 3$/m)
  t.match(body, /^faultline_stream_controllers 1$/m)
  await Promise.all([ctl.close(), obs.close()])
})

void t.test('the OpenAPI document lists every route and the stream\'s messages', async t => {
  const app = await build(t)
  const doc = (await app.inject({ url: '/openapi.json' })).json()
  t.equal(doc.openapi, '3.1.0')
  const want: Record<string, string[]> = {
    '/v1/vms': ['get', 'post'],
    '/v1/vms/{vm}': ['get', 'delete'],
    '/v1/vms/{vm}/actions': ['post'],
    '/v1/vms/{vm}/memory/attributes': ['get', 'put'],
    '/v1/vms/{vm}/memory/poison': ['post'],
    '/v1/vms/{vm}/memory/backing': ['get'],
    '/v1/vms/{vm}/vcpus': ['get'],
    '/v1/vms/{vm}/vcpus/{vcpu}/interrupt': ['post'],
    '/v1/vms/{vm}/exits': ['get'],
    '/v1/vms/{vm}/exits/{exit}/decision': ['post'],
    '/v1/presets': ['get'],
    '/healthz': ['get'],
    '/readyz': ['get'],
    '/metrics': ['get'],
    '/openapi.json': ['get'],
    '/asyncapi.json': ['get'],
    '/v1/stream': ['get']
  }
  for (const [path, methods] of Object.entries(want)) {
    for (const m of methods) t.ok(doc.paths[path]?.[m], `${m.toUpperCase()} ${path}`)
  }
  // The stream's messages are the AsyncAPI document's (test/routes/api-docs.test.ts).
  t.same(Object.keys(doc.components.schemas), ['Error'])
  t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' })
  t.same(doc.paths['/healthz'].get.security, [], 'public routes say so')
  t.equal(doc.paths['/v1/vms'].post.requestBody.content['application/json'].schema.additionalProperties, false)
  const ui = await app.inject({ url: '/docs' })
  t.ok(ui.statusCode === 200 || ui.statusCode === 302)
})

void t.test('the rate limit is per token and answers 429 FAULTLINE_RATE_LIMITED', async t => {
  const app = await build(t, { settings: { rateLimitPerMinute: 3 } })
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/v1/vms', headers: bearer(TOKENS.operatorA) })).statusCode, 200)
  const r = await app.inject({ url: '/v1/vms', headers: bearer(TOKENS.operatorA) })
  t.equal(r.statusCode, 429)
  t.match(r.json(), { code: 'FAULTLINE_RATE_LIMITED', message: /3 per minute/ })
  t.ok(r.headers['retry-after'])
  t.equal((await app.inject({ url: '/v1/vms', headers: bearer(TOKENS.operatorB) })).statusCode, 200, 'another token has its own budget')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'health is never limited')
})

void t.test('shedding under event-loop pressure can be turned on', async t => {
  const app = await build(t, { settings: { maxEventLoopDelayMs: 1000 } })
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})

void t.test('request ids: returned, kept when sane, in every log line; tokens never logged', async t => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const app = await build(t, { loggerInstance: pino(loggerOptions('info'), sink) })
  const r = await app.inject({ url: '/v1/vms', headers: { ...bearer(TOKENS.admin), 'x-request-id': 'abc-123' } })
  t.equal(r.headers['x-request-id'], 'abc-123')
  const gen = await app.inject({ url: '/v1/vms', headers: { ...bearer(TOKENS.admin), 'x-request-id': 'bad id with spaces' } })
  t.match(gen.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const all = lines.join('')
  t.notOk(all.includes(TOKENS.admin), 'no token in the log')
  const reqLines = lines.map(l => JSON.parse(l) as { reqId?: string, msg?: string }).filter(l => l.msg === 'incoming request' || l.msg === 'request completed')
  t.ok(reqLines.length >= 4)
  t.ok(reqLines.every(l => typeof l.reqId === 'string'))
})

void t.test('unknown routes are 404 FAULTLINE_NOT_FOUND', async t => {
  const app = await build(t)
  const r = await app.inject({ url: '/v1/nothing', headers: bearer(TOKENS.admin) })
  t.equal(r.statusCode, 404)
  t.equal(r.json().code, 'FAULTLINE_NOT_FOUND')
})

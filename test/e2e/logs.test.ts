// The log a server writes at debug: every request's and every stream session's lines carry
// the request id, and no token appears anywhere (not from an Authorization header, not
// from a `bearer.<token>` subprotocol offer).
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions } from '../../src/logger.js'
import { build, bearer, TOKENS } from '../helper.js'
import { Rest } from '../stream/rest.js'
import { listen, stats, until, WsClient } from '../stream/ws-client.js'

interface Line { reqId?: string, msg?: string, level?: number }

void t.test('debug logs carry request ids on requests and stream sessions, and never a token', async t => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const app = await build(t, { loggerInstance: pino(loggerOptions('debug'), sink) })
  const url = await listen(app)

  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...bearer(TOKENS.operatorA), 'x-request-id': 'rest-1' }, payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 } } })
  t.equal(r.statusCode, 201)
  const vm = (r.json() as { id: string }).id
  // A refused token is logged too (401): its value must not be.
  t.equal((await app.inject({ url: '/v1/vms', headers: bearer('not-a-valid-token-but-secret-1') })).statusCode, 401)
  // A browser's way in: the token as a subprotocol.
  const ws = await WsClient.open(url, null, { protocols: ['faultline.v1', `bearer.${TOKENS.observerA}`], headers: { 'x-request-id': 'stream-1' } })
  await ws.request({ type: 'subscribe', vm, role: 'observer' })
  await ws.close()
  await until(() => lines.some(l => l.includes('stream session closed')), 'the session\'s close is logged')

  const parsed = lines.map(l => JSON.parse(l) as Line)
  const all = lines.join('')
  for (const token of [TOKENS.operatorA, TOKENS.observerA, 'not-a-valid-token-but-secret-1']) t.notOk(all.includes(token), 'no token in the log')
  t.notOk(/bearer\.[A-Za-z0-9-]/i.test(all), 'no bearer.<token> subprotocol in the log')
  t.ok(parsed.some(l => l.reqId === 'rest-1' && l.msg === 'request completed'), 'a request\'s lines carry its id')
  const session = parsed.filter(l => l.msg === 'stream session opened' || l.msg === 'stream session closed')
  t.equal(session.length, 2)
  t.ok(session.every(l => l.reqId === 'stream-1'), 'a stream session\'s lines carry its upgrade request\'s id')
  t.ok(parsed.filter(l => l.msg === 'incoming request' || l.msg === 'request completed').every(l => typeof l.reqId === 'string'))
})

void t.test('a stream session\'s own warnings carry its upgrade request\'s id', async t => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const app = await build(t, { loggerInstance: pino(loggerOptions('warn'), sink), settings: { stream: { maxBufferedBytes: 64 * 1024 } } })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  // Decided by rule, as fast as it runs: floods an observer that does not read.
  const flood = await rest.createVm({ policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] } })
  const slow = await WsClient.open(url, null, { headers: { ...bearer(TOKENS.observerA), 'x-request-id': 'slow-1' } })
  await slow.request({ type: 'subscribe', vm: flood, role: 'observer' })
  slow.ws.pause()
  await rest.act(flood, 'start')
  await until(() => stats(app).slowClosed >= 1, 'the slow observer to be closed', 15_000)
  await rest.act(flood, 'kill')
  slow.ws.terminate()
  const warn = lines.map(l => JSON.parse(l) as Line).find(l => l.msg === 'stream client too slow, closing with 1013')
  t.equal(warn?.reqId, 'slow-1')
})

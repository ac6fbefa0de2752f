// Every error the service sends has a table code, Fastify's and Node's parser's included,
// and a body is refused for what it is: a prototype-polluting key, a charset other than
// UTF-8, a field that means nothing for the decision.
import t from 'tap'
import { connect } from 'node:net'
import { bearer, build, settle, TOKENS } from '../helper.js'

const opA = bearer(TOKENS.operatorA)
const vmBody = JSON.stringify({ type: 'default', vcpus: 1, memory: { size_mib: 1 } })

/** Sends raw bytes to the server and reads until it closes (bounded). */
async function raw (port: number, bytes: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => { s.write(bytes) })
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer within 5 s')) }, 5000)
    s.on('data', (d) => chunks.push(d))
    s.on('error', () => { /* a reset after the answer: what was read is the answer */ })
    s.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString()) })
  })
}

function jsonOf (response: string): { statusCode: number, code: string, message: string } {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { statusCode: number, code: string, message: string }
}

void t.test('a malformed URL is 400 FAULTLINE_BAD_REQUEST, not FST_ERR_BAD_URL', async t => {
  const app = await build(t)
  for (const url of ['/v1/vms/%E0%A4%A', '/%zz']) {
    const r = await app.inject({ url, headers: opA })
    t.equal(r.statusCode, 400, url)
    t.match(r.json(), { statusCode: 400, code: 'FAULTLINE_BAD_REQUEST', error: 'Bad Request' })
  }
})

void t.test('what Node\'s parser refuses gets the contract\'s body: 431 and 400', async t => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const big = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.match(big, /^HTTP\/1\.1 431 /)
  t.match(jsonOf(big), { statusCode: 431, code: 'FAULTLINE_HEADERS_TOO_LARGE' })
  const garbage = await raw(port, 'NOT HTTP AT ALL\r\n\r\n')
  t.match(garbage, /^HTTP\/1\.1 400 /)
  t.match(jsonOf(garbage), { statusCode: 400, code: 'FAULTLINE_BAD_REQUEST' })
  // And the server goes on serving.
  t.match(await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /)
})

void t.test('a __proto__ or constructor.prototype key is refused by name', async t => {
  const app = await build(t)
  for (const [payload, where] of [
    ['{"__proto__":{"polluted":1},"type":"default","vcpus":1,"memory":{"size_mib":1}}', 'body.__proto__'],
    ['{"type":"default","vcpus":1,"memory":{"size_mib":1},"policy":{"rules":[{"\\u005f_proto__":{}}]}}', 'body.policy.rules[0].__proto__'],
    ['{"type":"default","vcpus":1,"memory":{"size_mib":1},"constructor":{"prototype":{"x":1}}}', 'body.constructor.prototype']
  ] as const) {
    const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': 'application/json' }, payload })
    t.equal(r.statusCode, 400, where)
    t.equal(r.json().code, 'FAULTLINE_VALIDATION')
    t.match(r.json().message, where)
    t.notMatch(r.json().message, /not valid JSON/)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  // "prototype" as an ordinary string value is fine.
  const ok = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': 'application/json' }, payload: '{"type":"default","vcpus":1,"memory":{"size_mib":1},"name":"prototype"}' })
  t.equal(ok.statusCode, 201)
})

void t.test('bodies are JSON in UTF-8: another charset is 415, bytes that are not UTF-8 are 400', async t => {
  const app = await build(t)
  for (const charset of ['utf-16', 'UTF-16LE', 'latin1', '"iso-8859-1"']) {
    const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': `application/json; charset=${charset}` }, payload: vmBody })
    t.equal(r.statusCode, 415, charset)
    t.equal(r.json().code, 'FAULTLINE_UNSUPPORTED_MEDIA_TYPE')
  }
  for (const charset of ['utf-8', 'UTF-8', 'utf8', '"utf-8"']) {
    const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': `application/json; charset=${charset}` }, payload: vmBody })
    t.equal(r.statusCode, 201, charset)
  }
  const latin1 = Buffer.from('{"type":"default","vcpus":1,"memory":{"size_mib":1},"name":"caf\xe9"}', 'latin1')
  const bad = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': 'application/json' }, payload: latin1 })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'FAULTLINE_BAD_JSON', message: /UTF-8/ })
  const empty = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': 'application/json' }, payload: '' })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().code, 'FAULTLINE_BAD_JSON')
  const broken = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': 'application/json' }, payload: '{"type":' })
  t.match(broken.json(), { statusCode: 400, code: 'FAULTLINE_BAD_JSON', message: /not valid JSON/ })
})

void t.test('kill and convert refuse the fields that mean nothing for them', async t => {
  const app = await build(t)
  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [{ op: 'in', port: 0x60, size: 1 }], autostart: true } })
  const id = r.json().id as string
  await settle()
  for (const payload of [{ action: 'kill', ret: 0 }, { action: 'kill', data: [1] }, { action: 'convert', ret: 1 }]) {
    const d = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: opA, payload })
    t.ok(d.statusCode === 400 || d.statusCode === 422, `${JSON.stringify(payload)}: ${d.statusCode}`)
    t.match(d.json().message, /ret|data/)
  }
  t.equal((await app.inject({ url: `/v1/vms/${id}`, headers: opA })).json().state, 'running', 'the exit is still pending: nothing was decided')
})

// /metrics counts every tenant's VMs: only an admin or a `metrics` token (a scraper's) may
// read it, and a metrics token reads nothing else, REST or stream.
import t from 'tap'
import { parseTokensFile } from '../../src/auth/tokens.js'
import { bearer, build, TOKEN_ENTRIES, TOKENS } from '../helper.js'
import { listen } from '../stream/ws-client.js'
import WebSocket from 'ws'

const SCRAPER = 'test-metrics-token-000005'
const tokens = [...TOKEN_ENTRIES, { token: SCRAPER, tenant: 'ops', role: 'metrics' as const }]

void t.test('a tokens file may give the metrics role', async t => {
  t.same(parseTokensFile(`[{"token":"${SCRAPER}","tenant":"ops","role":"metrics"}]`), [{ token: SCRAPER, tenant: 'ops', role: 'metrics' }])
})

void t.test('tenant tokens cannot read server-wide metrics; admin and metrics tokens can', async t => {
  const app = await build(t, { tokens })
  await app.inject({ method: 'POST', url: '/v1/vms', headers: bearer(TOKENS.operatorB), payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 } } })
  for (const token of [TOKENS.operatorA, TOKENS.observerA]) {
    const r = await app.inject({ url: '/metrics', headers: bearer(token) })
    t.equal(r.statusCode, 403)
    t.equal(r.json().code, 'FAULTLINE_FORBIDDEN')
    t.notMatch(r.body, /faultline_vms/)
  }
  for (const token of [TOKENS.admin, SCRAPER]) {
    const r = await app.inject({ url: '/metrics', headers: bearer(token) })
    t.equal(r.statusCode, 200)
    t.match(r.body, /faultline_vms\{state="created",type="default"\} 1/)
  }
})

void t.test('a metrics token can do nothing else', async t => {
  const app = await build(t, { tokens })
  const id = (await app.inject({ method: 'POST', url: '/v1/vms', headers: bearer(TOKENS.admin), payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 } } })).json().id as string
  const calls = [
    { method: 'GET' as const, url: '/v1/vms' },
    { method: 'GET' as const, url: `/v1/vms/${id}` },
    { method: 'GET' as const, url: '/v1/presets' },
    { method: 'POST' as const, url: '/v1/vms', payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 } } },
    { method: 'POST' as const, url: `/v1/vms/${id}/actions`, payload: { action: 'start' } },
    { method: 'DELETE' as const, url: `/v1/vms/${id}` }
  ]
  for (const c of calls) {
    const r = await app.inject({ ...c, headers: bearer(SCRAPER) })
    t.equal(r.statusCode, 403, `${c.method} ${c.url}`)
    t.equal(r.json().code, 'FAULTLINE_FORBIDDEN')
  }
  t.equal((await app.inject({ url: `/v1/vms/${id}`, headers: bearer(TOKENS.admin) })).json().state, 'created', 'nothing changed')
  // The stream's upgrade is refused before any socket opens.
  const url = await listen(app)
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, ['faultline.v1'], { headers: bearer(SCRAPER) })
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate() })
    ws.on('open', () => { ws.close(); reject(new Error('the upgrade was accepted')) })
    ws.on('error', reject)
  })
  t.equal(status, 403)
})

// REST overhead: GET /v1/vms/{vm} through the whole app (auth with a constant-time token
// compare, the per-token rate limit, the event-loop pressure check, schema serialization, control/'s view)
// against a bare Fastify route returning the same JSON, same connections and duration,
// both on 127.0.0.1 in this process. Target: >= 0.8x the bare route's requests/s.
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { localServer } from '../src/local-server.js'
import { report } from './lib/report.js'

interface Result { requests: { average: number }, non2xx: number, errors: number }
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: Result) => void) => unknown
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

const DURATION_S = 5
const CONNECTIONS = 32
const TOKEN = 'bench-admin-token-0000000000'
const TARGET = 0.8

function run (name: string, url: string, headers: Record<string, string>): Promise<Result> {
  process.stderr.write(`  ${name}: ${CONNECTIONS} connections for ${DURATION_S} s ...\n`)
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers }, (err, r) => {
      if (err !== null) reject(err)
      else {
        process.stderr.write(`  ${name}: ${Math.round(r.requests.average)} req/s (${r.non2xx} non-2xx, ${r.errors} errors)\n`)
        resolve(r)
      }
    })
  })
}

async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const a = app.server.address()
  if (a === null || typeof a === 'string') throw new Error('no address')
  return `http://127.0.0.1:${a.port}`
}

const server = await localServer({
  tokens: [{ token: TOKEN, tenant: 'bench', role: 'admin' }],
  // On, so its cost is measured, but high enough that the bench's own load is not refused.
  settings: { rateLimitPerMinute: 100_000_000, maxEventLoopDelayMs: 1000, version: 'bench' }
})
const { app, control } = server
const principal = { tenant: 'bench', role: 'admin' as const, id: 'bench' }
const vm = control.createVm(principal, { type: 'tdx', vcpus: 4, memory: { size_mib: 64 }, program: [{ op: 'hlt' }] })
const body = control.getVm(principal, vm.id)

const bare = Fastify({ logger: false })
bare.get('/bare', async () => body)

const appUrl = server.url
const bareUrl = await listen(bare)
// Warm both up so JIT state is comparable.
await run('warm-up app', `${appUrl}/v1/vms/${vm.id}`, { authorization: `Bearer ${TOKEN}` })
const bareR = await run('bare route', `${bareUrl}/bare`, {})
const appR = await run('GET /v1/vms/{vm}', `${appUrl}/v1/vms/${vm.id}`, { authorization: `Bearer ${TOKEN}` })
await app.close()
await bare.close()

const ratio = appR.requests.average / bareR.requests.average
const ok = appR.non2xx === 0 && appR.errors === 0
report('REST: GET /v1/vms/{vm} with auth vs a bare Fastify route', [{
  name: 'GET /v1/vms/{vm} (auth, rate limit)',
  value: appR.requests.average,
  unit: 'req/s',
  baseline: { name: 'bare Fastify route', value: bareR.requests.average },
  target: `>= ${TARGET}x baseline`,
  pass: ok && ratio >= TARGET
}])
if (!ok) console.log(`\nthe app answered ${appR.non2xx} non-2xx and ${appR.errors} errors`)
process.exit(ok && ratio >= TARGET ? 0 : 1)

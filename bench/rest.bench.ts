// REST overhead: GET /v1/vms/{vm} through the whole app (auth with a constant-time token
// compare, the per-token rate limit, the event-loop pressure check, schema serialization, control/'s view)
// against a bare Fastify route returning the same bytes after a string compare of the token,
// same connections and duration. Each server runs in its own process, the load generator
// (autocannon) in this one, all on 127.0.0.1. Target: >= 0.8x the bare route's requests/s.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { report } from './lib/report.js'

const here = dirname(fileURLToPath(import.meta.url))

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

interface Served { url: string, path: string, kill: () => void }

/** Starts one of bench/lib/rest-servers.ts in its own process. */
async function serve (which: 'faultline' | 'bare', env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib', 'rest-servers.ts'), which], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_TOKEN: TOKEN, ...env }
  })
  const first = await new Promise<{ url: string, path: string }>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => { resolve(JSON.parse(d.toString()) as { url: string, path: string }) })
    child.once('exit', (code) => { reject(new Error(`the ${which} server exited (${code ?? 'signal'})`)) })
  })
  return { ...first, kill: () => { child.kill() } }
}

const auth = { authorization: `Bearer ${TOKEN}` }
const app = await serve('faultline')
// The bare route answers the very bytes faultline does.
const body = await (await fetch(app.url + app.path, { headers: auth })).text()
const bare = await serve('bare', { BENCH_BODY: body })
process.stderr.write(`  the answer: ${Buffer.byteLength(body)} bytes\n`)
// Warm both up so JIT state is comparable.
await run('warm-up app', app.url + app.path, auth)
await run('warm-up bare', bare.url + bare.path, auth)
const bareR = await run('bare route', bare.url + bare.path, auth)
const appR = await run('GET /v1/vms/{vm}', app.url + app.path, auth)
app.kill()
bare.kill()

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

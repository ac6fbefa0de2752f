// REST overhead: GET /v1/vms/{vm} through the whole app (auth with a constant-time token
// compare, the per-token rate limit, the event-loop pressure check, schema serialization, control/'s view)
// against a bare Fastify route returning the same bytes after a string compare of the token,
// same connections and duration. Each server runs in its own process, the load generator
// (autocannon) in this one, all on 127.0.0.1. Target: >= 0.8x the bare route's requests/s.
//
// The machines are shared and noisy: the two servers are measured in alternating short
// rounds, and the figures are medians over rounds. Beside requests/s, each server's own CPU
// time per request (from /proc) is reported: it moves much less with other load.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpuSeconds } from './lib/proc.js'
import { median, report } from './lib/report.js'

const here = dirname(fileURLToPath(import.meta.url))

interface Result { requests: { average: number, total: number }, non2xx: number, errors: number }
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: Result) => void) => unknown
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

const ROUNDS = Number(process.env.BENCH_REST_ROUNDS ?? 5)
const ROUND_S = 3
const CONNECTIONS = 32
const TOKEN = 'bench-admin-token-0000000000'
const TARGET = 0.8

interface Served { url: string, path: string, pid: number, kill: () => Promise<void> }

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
  const kill = (): Promise<void> => new Promise(resolve => { child.once('exit', () => { resolve() }); child.kill() })
  return { ...first, pid: child.pid ?? 0, kill }
}

const auth = { authorization: `Bearer ${TOKEN}` }

function load (s: Served, seconds: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url: s.url + s.path, connections: CONNECTIONS, duration: seconds, headers: auth }, (err, r) => {
      if (err !== null) reject(err)
      else resolve(r)
    })
  })
}

interface Round { rps: number, cpuUsPerReq: number, bad: number }

async function round (name: string, s: Served): Promise<Round> {
  const c0 = cpuSeconds(s.pid)
  const r = await load(s, ROUND_S)
  const cpu = cpuSeconds(s.pid) - c0
  const out = { rps: r.requests.average, cpuUsPerReq: cpu * 1e6 / r.requests.total, bad: r.non2xx + r.errors }
  process.stderr.write(`    ${name}: ${Math.round(out.rps)} req/s, server CPU ${out.cpuUsPerReq.toFixed(1)} µs/request${out.bad > 0 ? `, ${out.bad} non-2xx or errors` : ''}\n`)
  return out
}

const app = await serve('faultline')
// The bare route answers the very bytes faultline does.
const body = await (await fetch(app.url + app.path, { headers: auth })).text()
const bare = await serve('bare', { BENCH_BODY: body })
process.stderr.write(`  the answer: ${Buffer.byteLength(body)} bytes; ${ROUNDS} rounds of ${ROUND_S} s each, alternating\n`)
// Warm both up so JIT state is comparable.
await load(app, 2)
await load(bare, 2)
const apps: Round[] = []
const bares: Round[] = []
for (let i = 0; i < ROUNDS; i++) {
  process.stderr.write(`  round ${i + 1}/${ROUNDS}\n`)
  // Alternate which goes first, so a slow spell of the machine does not always hit the same one.
  if (i % 2 === 0) { bares.push(await round('bare route', bare)); apps.push(await round('GET /v1/vms/{vm}', app)) } else { apps.push(await round('GET /v1/vms/{vm}', app)); bares.push(await round('bare route', bare)) }
}
await app.kill()
await bare.kill()

const ratios = apps.map((a, i) => a.rps / (bares[i] as Round).rps)
const ratio = median(ratios)
const ok = apps.every(a => a.bad === 0)
const appRps = median(apps.map(a => a.rps))
const bareRps = median(bares.map(b => b.rps))
report('REST: GET /v1/vms/{vm} with auth vs a bare Fastify route', [{
  name: 'GET /v1/vms/{vm} (auth, rate limit)',
  value: appRps,
  unit: 'req/s',
  baseline: { name: 'bare Fastify route', value: bareRps },
  target: `>= ${TARGET}x baseline (median of per-round ratios: ${ratio.toFixed(2)}x)`,
  pass: ok && ratio >= TARGET
}, {
  name: 'server CPU per request',
  value: median(apps.map(a => a.cpuUsPerReq)),
  unit: 'µs',
  baseline: { name: 'bare Fastify route', value: median(bares.map(b => b.cpuUsPerReq)) }
}])
if (!ok) console.log(`\nthe app answered ${apps.reduce((n, a) => n + a.bad, 0)} non-2xx or errors`)
// 1 when the figure missed its target (report() says so).
process.exit(process.exitCode ?? 0)

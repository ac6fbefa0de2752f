// Isolation under hostile load (docs/operations.md "Scheduling"), measured from clients in
// their own processes on 127.0.0.1, each beside the same measure with no hostile load:
// - /healthz latency p99 while 100 VMs of another tenant spin on 1 MiB accesses over
//   fragmented memory: < 50 ms;
// - a victim VM's exit round trip (exit out, decision back, next exit out) in the same
//   conditions: p50 <= 2x its value with no hostile load.
// Run: node --import tsx bench/isolation.bench.ts (or npm run bench -- isolation).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { buildApp } from '../src/app.js'
import { createAuth } from '../src/auth/index.js'
import { Control } from '../src/control/index.js'
import { histogram, median, percentile, progress, report } from './lib/report.js'
import type { ExitRttResult, Job } from './lib/stream-client.js'
import type { HealthzJob, HealthzResult } from './lib/healthz-client.js'

const here = dirname(fileURLToPath(import.meta.url))
const VICTIM = 'bench-victim-token-00000'
const HOSTILE = 'bench-hostile-token-0000'
const MIB = 2 ** 20
const quick = process.env.BENCH_QUICK === '1'
const HOSTILE_VMS = 100
const SPLITS = quick ? 16 : 64

const control = new Control({ limits: { maxVmsPerTenant: HOSTILE_VMS } })
const app = await buildApp({
  control,
  auth: createAuth([
    { token: VICTIM, tenant: 'victim', role: 'operator' },
    { token: HOSTILE, tenant: 'hostile', role: 'operator' }
  ]),
  settings: {
    bodyLimit: 1 << 20,
    wsMaxPayload: 64 * 1024,
    rateLimitPerMinute: 0,
    maxEventLoopDelayMs: 0,
    limits: control.limits,
    version: 'bench'
  } as Parameters<typeof buildApp>[0]['settings']
})
await app.listen({ port: 0, host: '127.0.0.1' })
const api = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

async function call (token: string, method: 'POST' | 'PUT', url: string, payload: unknown): Promise<Record<string, unknown>> {
  const r = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, payload: payload as Record<string, unknown> })
  if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.body}`)
  return r.json()
}

/** Runs a client in its own process; resolves with its JSON result. */
async function client<T> (script: string, job: Job | HealthzJob): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib', script), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${script} exited with ${code}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as T
}

const samples = quick ? 500 : 2000
async function measure (): Promise<{ healthz: HealthzResult, victim: ExitRttResult }> {
  const healthz = await client<HealthzResult>('healthz-client.ts', { url: api, samples })
  const vm = (await call(VICTIM, 'POST', '/v1/vms', { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }] })).id as string
  const victim = await client<ExitRttResult>('stream-client.ts', { kind: 'exit-rtt', api, token: VICTIM, vm, samples })
  await app.inject({ method: 'DELETE', url: `/v1/vms/${vm}`, headers: { authorization: `Bearer ${VICTIM}` } })
  return { healthz, victim }
}

console.log(`\n# isolation: /healthz and a victim's exit round trip, quiet and beside ${HOSTILE_VMS} hostile VMs of another tenant`)
const quiet = await measure()

// The hostile tenant: sw_protected VMs reading 1 MiB at a time, for ever, over memory whose
// attributes alternate page by page (every page an attribute lookup on a fragmented map).
for (let i = 0; i < HOSTILE_VMS; i++) {
  const id = (await call(HOSTILE, 'POST', '/v1/vms', {
    type: 'sw_protected', vcpus: 1, memory: { size_mib: 16 },
    program: [{ op: 'repeat', forever: true, body: [{ op: 'read', gpa: 0, size: MIB }, { op: 'read', gpa: MIB, size: MIB, vcpu_stride: 0 }] }]
  })).id as string
  for (let p = 0; p < 2 * SPLITS; p += 2) await call(HOSTILE, 'PUT', `/v1/vms/${id}/memory/attributes`, { address: p * 4096, size: 4096, attributes: 0, flags: 0 })
  await call(HOSTILE, 'POST', `/v1/vms/${id}/actions`, { action: 'start' })
  progress('hostile VMs', i + 1, HOSTILE_VMS)
}
const loaded = await measure()
const spun = Object.values(control.stats().vms.running).reduce((a, b) => a + b, 0)

const hzQuiet = percentile(quiet.healthz.us, 99) / 1000
const hzLoaded = percentile(loaded.healthz.us, 99) / 1000
const rttQuiet = median(quiet.victim.exitUs)
const rttLoaded = median(loaded.victim.exitUs)
report(`isolation: ${spun} hostile VMs running (1 MiB reads, ${SPLITS} attribute splits each)`, [
  { name: '/healthz p99, hostile load', value: hzLoaded, unit: 'ms', baseline: { name: 'quiet', value: hzQuiet }, target: '< 50 ms', pass: hzLoaded < 50 },
  { name: '/healthz failures, hostile load', value: loaded.healthz.failures, unit: '', target: '0', pass: loaded.healthz.failures === 0 },
  { name: 'victim exit round trip p50', value: rttLoaded, unit: 'µs', baseline: { name: 'quiet', value: rttQuiet }, target: '<= 2x quiet', pass: rttLoaded <= 2 * rttQuiet },
  { name: 'victim exit round trip p99', value: percentile(loaded.victim.exitUs, 99), unit: 'µs', baseline: { name: 'quiet', value: percentile(quiet.victim.exitUs, 99) } }
])
histogram('/healthz under hostile load', loaded.healthz.us)
histogram('victim exit round trip under hostile load', loaded.victim.exitUs)
control.close()
await app.close()

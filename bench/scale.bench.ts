// Scale, all on 127.0.0.1, every client in a process of its own:
// 1. 1,000 VMs x 2 vCPUs running the conversion-storm preset, every exit decided by one
//    controller socket (bench/lib/scale-client.ts): exits decided per second; the decision
//    round trip (decision sent -> that vCPU's next exit) as p50, mean, p99 and the longest
//    wait, because with 2,000 vCPUs runnable on one socket the tail shows starvation
//    (target p99 < 50 ms and p99 <= 3x the mean); the server's peak RSS (< 1 GiB) and its
//    RSS and heap per VM.
// 2. 1,000 observer sockets on 100 VMs (bench/lib/stream-observers.ts): the controller's
//    round trip on those VMs with them, against without (target <= 1.5x).
// BENCH_SCALE_VMS and BENCH_SCALE_SECONDS shrink it; BENCH_ONLY=storm|observers runs one part.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadConfig } from '../src/config.js'
import { localServer } from '../src/local-server.js'
import { fmt, report } from './lib/report.js'
import type { ScaleJob, ScaleResult } from './lib/scale-client.js'

const here = dirname(fileURLToPath(import.meta.url))
const TOKEN = 'bench-operator-token-0000'
const VMS = Number(process.env.BENCH_SCALE_VMS ?? 1000)
const VCPUS = 2
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 10)
const OBSERVED_VMS = Math.max(1, Math.round(VMS / 10))
const OBSERVERS = OBSERVED_VMS * 10
const only = process.env.BENCH_ONLY
const runs = (part: string): boolean => only === undefined || only === part
const MiB = 2 ** 20
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {})
const now = (): number => Number(process.hrtime.bigint()) / 1000

const defaults = loadConfig({})
const server = await localServer({
  tokens: [{ token: TOKEN, tenant: 'bench', role: 'operator' }],
  limits: { maxVmsPerTenant: VMS + OBSERVED_VMS, maxVms: VMS + OBSERVED_VMS },
  settings: {
    rateLimitPerMinute: 0,
    maxEventLoopDelayMs: 0,
    version: 'bench',
    stream: { ...defaults.stream, maxSubscriptions: Math.max(1024, VMS), maxSocketsPerToken: OBSERVERS + 16 }
  }
})
const principal = { tenant: 'bench', role: 'operator' as const, id: 'bench' }

function createVms (n: number, vcpus: number): string[] {
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(server.control.createVm(principal, { type: 'tdx', vcpus, preset: 'conversion-storm', seed: i + 1 }).id)
  return ids
}

// The server's peak RSS and its CPU time, sampled by its own event loop, so that its CPU
// over a client's measured window can be read afterwards.
let peakRss = 0
const cpuAt: Array<[number, number]> = []
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const c = process.cpuUsage()
  cpuAt.push([now(), c.user + c.system])
}, 100)

/** The server's CPU over [from, to] (µs of hrtime), as a share of one core. */
function serverCpu ([from, to]: [number, number]): number {
  const inWindow = cpuAt.filter(([t]) => t >= from && t <= to)
  const first = inWindow[0]
  const last = inWindow.at(-1)
  return first !== undefined && last !== undefined && last[0] > first[0] ? (last[1] - first[1]) / (last[0] - first[0]) : NaN
}

/** Runs a controller job in its own process; resolves with its result. */
async function controller (job: ScaleJob): Promise<ScaleResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib/scale-client.ts'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`scale client exited with ${code}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ScaleResult
}

const ms = (us: number): number => us / 1000

// ---- 1. 1,000 VMs x 2 vCPUs, one controller socket ----
if (runs('storm')) {
  gc()
  const before = process.memoryUsage()
  const vms = createVms(VMS, VCPUS)
  gc()
  const created = process.memoryUsage()
  peakRss = Math.max(peakRss, created.rss)
  process.stderr.write(`  ${VMS} VMs x ${VCPUS} vCPUs created: +${((created.rss - before.rss) / MiB).toFixed(0)} MiB RSS\n`)
  const r = await controller({ api: server.url, token: TOKEN, vms, vcpus: VCPUS, warmupS: Math.min(3, SECONDS), seconds: SECONDS, start: true })
  const mem = process.memoryUsage()
  peakRss = Math.max(peakRss, mem.rss)
  // What the VMs keep, without the garbage a busy run leaves for the next collection (the
  // peak RSS includes that garbage: it grows with the allocation rate, so with exits/s).
  gc()
  const kept = process.memoryUsage()
  const cpu = serverCpu(r.window)
  console.log(`\n# scale: ${VMS} VMs x ${VCPUS} vCPUs (conversion-storm, tdx), one controller socket deciding every exit`)
  report(`${VMS * VCPUS} vCPUs on one socket, ${SECONDS} s measured`, [
    { name: 'exits decided per second', value: r.exitsPerSec, unit: '/s' },
    { name: 'decision round trip p50', value: ms(r.rtt.p50), unit: 'ms' },
    { name: 'decision round trip mean', value: ms(r.rtt.mean), unit: 'ms' },
    { name: 'decision round trip p99', value: ms(r.rtt.p99), unit: 'ms', target: '< 50 ms', pass: ms(r.rtt.p99) < 50 },
    { name: 'decision round trip p99 / mean', value: r.rtt.p99 / r.rtt.mean, unit: 'x', target: '<= 3x', pass: r.rtt.p99 <= 3 * r.rtt.mean },
    { name: 'longest wait of any vCPU', value: ms(r.longestWaitUs), unit: 'ms' },
    { name: 'server CPU per exit decided', value: cpu * 1e6 / r.exitsPerSec, unit: 'µs' },
    { name: 'server RSS, peak', value: peakRss / MiB, unit: 'MiB', target: '< 1024 MiB', pass: peakRss < 1024 * MiB },
    { name: 'RSS per VM (after the run)', value: (mem.rss - before.rss) / VMS / 1024, unit: 'KiB' },
    { name: 'heap per VM (after the run)', value: (mem.heapUsed - before.heapUsed) / VMS / 1024, unit: 'KiB' },
    { name: 'heap per VM kept (after a full collection)', value: (kept.heapUsed - before.heapUsed) / VMS / 1024, unit: 'KiB' }
  ])
  console.log(`    p90 ${fmt(ms(r.rtt.p90))} ms, p99.9 ${fmt(ms(r.rtt.p999))} ms, max ${fmt(ms(r.rtt.max))} ms over ${r.rtt.n} round trips`)
  console.log(`    CPU: the server ${(cpu * 100).toFixed(0)}% of a core, the client ${(r.clientCpu * 100).toFixed(0)}% over the window`)
  console.log(`    exits per vCPU in the window: min ${r.perVcpu.min}, median ${r.perVcpu.p50}, max ${r.perVcpu.max}; ${r.perVcpu.idle} of ${r.perVcpu.vcpus} vCPUs had none`)
  console.log(`    in a closed loop every vCPU waits its turn among ${VMS * VCPUS}: the mean round trip is about vCPUs / exits per second (${fmt(VMS * VCPUS / r.exitsPerSec * 1000)} ms)`)
  // The next part is its own scenario: these VMs and their journals go first.
  for (const id of vms) server.control.deleteVm(principal, id)
  gc()
}

// ---- 2. 1,000 observers on 100 VMs ----
if (runs('observers')) {
  const vms = createVms(OBSERVED_VMS, 1)
  const seconds = Math.max(1, Math.round(SECONDS / 2))
  process.stderr.write(`  ${OBSERVED_VMS} VMs for the observers; the controller alone first\n`)
  const alone = await controller({ api: server.url, token: TOKEN, vms, vcpus: 1, warmupS: 1, seconds, start: true })
  const observers = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib/stream-observers.ts'),
    JSON.stringify({ url: server.url.replace(/^http/, 'ws') + '/v1/stream', token: TOKEN, vms, n: OBSERVERS })], { stdio: ['pipe', 'pipe', 'inherit'] })
  let obsOut = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('observers: not ready in 60 s')), 60_000)
    observers.stdout.on('data', (d: Buffer) => { obsOut += d.toString(); if (obsOut.includes('ready\n')) { clearTimeout(timer); resolve() } })
  })
  process.stderr.write(`  ${OBSERVERS} observers subscribed; the controller again\n`)
  const watched = await controller({ api: server.url, token: TOKEN, vms, vcpus: 1, warmupS: 1, seconds, start: false })
  observers.stdin.end()
  await new Promise(resolve => observers.once('exit', resolve))
  // A run with no round trips (the guests' programs ended) measures nothing: a miss.
  const observedOk = watched.rtt.n > 0 && alone.rtt.n > 0 && watched.rtt.p50 <= 1.5 * alone.rtt.p50
  const obs = JSON.parse(obsOut.trim().split('\n').at(-1) ?? '{}') as { frames: number, open: number }
  console.log(`\n# scale: ${OBSERVERS} observer sockets on ${OBSERVED_VMS} VMs (1 vCPU each), one controller deciding every exit`)
  report(`${OBSERVERS} observers, ${seconds} s measured each way`, [
    { name: 'decision round trip p50, observed', value: ms(watched.rtt.p50), unit: 'ms', baseline: { name: 'no observers', value: ms(alone.rtt.p50) }, target: '<= 1.5x', pass: observedOk },
    { name: 'decision round trip p99, observed', value: ms(watched.rtt.p99), unit: 'ms', baseline: { name: 'no observers', value: ms(alone.rtt.p99) } },
    { name: 'exits decided per second, observed', value: watched.exitsPerSec, unit: '/s', baseline: { name: 'no observers', value: alone.exitsPerSec } }
  ])
  console.log(`    observers: ${obs.open}/${OBSERVERS} still open, ${obs.frames} frames received; server CPU ${(serverCpu(alone.window) * 100).toFixed(0)}% alone, ${(serverCpu(watched.window) * 100).toFixed(0)}% observed`)
}

clearInterval(sampler)
await server.close()
// 1 when a figure missed its target (report() says so).
process.exit(process.exitCode ?? 0)

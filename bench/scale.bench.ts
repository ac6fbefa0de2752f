// Scale: 1,000 VMs x 2 vCPUs running the conversion-storm preset, every exit decided by one
// controller socket in its own process (bench/lib/scale-client.ts), all on 127.0.0.1:
// - exits decided per second;
// - the decision round trip (decision sent -> that vCPU's next exit): p50, mean, p99, and
//   the longest wait, because with 2,000 vCPUs runnable on one socket the tail shows
//   starvation: target p99 < 50 ms and p99 <= 3x the mean;
// - the server's RSS (peak < 1 GiB) and its heap and RSS per VM.
// BENCH_SCALE_VMS and BENCH_SCALE_SECONDS shrink it (the test runs it tiny).
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
const MiB = 2 ** 20
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {})

const defaults = loadConfig({})
const server = await localServer({
  tokens: [{ token: TOKEN, tenant: 'bench', role: 'operator' }],
  limits: { maxVmsPerTenant: VMS, maxVms: VMS },
  settings: { rateLimitPerMinute: 0, maxEventLoopDelayMs: 0, version: 'bench', stream: { ...defaults.stream, maxSubscriptions: Math.max(1024, VMS) } }
})
const principal = { tenant: 'bench', role: 'operator' as const, id: 'bench' }

gc()
const before = process.memoryUsage()
const vms: string[] = []
for (let i = 0; i < VMS; i++) {
  vms.push(server.control.createVm(principal, { type: 'tdx', vcpus: VCPUS, preset: 'conversion-storm', seed: i + 1 }).id)
}
gc()
const created = process.memoryUsage()
process.stderr.write(`  ${VMS} VMs x ${VCPUS} vCPUs created: +${((created.rss - before.rss) / MiB).toFixed(0)} MiB RSS\n`)

// Peak RSS while they run, sampled by the server's own event loop.
// and its CPU time, to know how busy it was over the client's measured window.
let peakRss = created.rss
const now = (): number => Number(process.hrtime.bigint()) / 1000
const cpuAt: Array<[number, number]> = []
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const c = process.cpuUsage()
  cpuAt.push([now(), c.user + c.system])
}
const sampler = setInterval(sample, 100)

const job: ScaleJob = { api: server.url, token: TOKEN, vms, vcpus: VCPUS, warmupS: Math.min(3, SECONDS), seconds: SECONDS }
const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib/scale-client.ts'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] })
let out = ''
child.stdout.on('data', (d: Buffer) => { out += d.toString() })
const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
clearInterval(sampler)
if (code !== 0) throw new Error(`scale client exited with ${code}`)
const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ScaleResult
const mem = process.memoryUsage()
peakRss = Math.max(peakRss, mem.rss)

const ms = (us: number): number => us / 1000
const inWindow = cpuAt.filter(([t]) => t >= r.window[0] && t <= r.window[1])
const first = inWindow[0]
const last = inWindow.at(-1)
const serverCpu = first !== undefined && last !== undefined && last[0] > first[0] ? (last[1] - first[1]) / (last[0] - first[0]) : NaN
console.log(`\n# scale: ${VMS} VMs x ${VCPUS} vCPUs (conversion-storm, tdx), one controller socket deciding every exit`)
report(`${VMS * VCPUS} vCPUs on one socket, ${SECONDS} s measured`, [
  { name: 'exits decided per second', value: r.exitsPerSec, unit: '/s' },
  { name: 'decision round trip p50', value: ms(r.rtt.p50), unit: 'ms' },
  { name: 'decision round trip mean', value: ms(r.rtt.mean), unit: 'ms' },
  { name: 'decision round trip p99', value: ms(r.rtt.p99), unit: 'ms', target: '< 50 ms', pass: ms(r.rtt.p99) < 50 },
  { name: 'decision round trip p99 / mean', value: r.rtt.p99 / r.rtt.mean, unit: 'x', target: '<= 3x', pass: r.rtt.p99 <= 3 * r.rtt.mean },
  { name: 'server CPU per exit decided', value: serverCpu * 1e6 / r.exitsPerSec, unit: 'µs' },
  { name: 'longest wait of any vCPU', value: ms(r.longestWaitUs), unit: 'ms' },
  { name: 'server RSS, peak', value: peakRss / MiB, unit: 'MiB', target: '< 1024 MiB', pass: peakRss < 1024 * MiB },
  { name: 'RSS per VM (after the run)', value: (mem.rss - before.rss) / VMS / 1024, unit: 'KiB' },
  { name: 'heap per VM (after the run)', value: (mem.heapUsed - before.heapUsed) / VMS / 1024, unit: 'KiB' }
])
console.log(`    p90 ${fmt(ms(r.rtt.p90))} ms, p99.9 ${fmt(ms(r.rtt.p999))} ms, max ${fmt(ms(r.rtt.max))} ms over ${r.rtt.n} round trips`)
console.log(`    CPU: the server ${(serverCpu * 100).toFixed(0)}% of a core, the client ${(r.clientCpu * 100).toFixed(0)}% over the window`)
console.log(`    exits per vCPU in the window: min ${r.perVcpu.min}, median ${r.perVcpu.p50}, max ${r.perVcpu.max}; ${r.perVcpu.idle} of ${r.perVcpu.vcpus} vCPUs had none`)
await server.close()
process.exit(0)

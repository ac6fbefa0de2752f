// GET /v1/stream against a bare `ws` echo server in its own process (bench/lib/echo-server.ts),
// measured in the same run from a client in its own
// process (bench/lib/stream-client.ts), all on 127.0.0.1:
// - exit round trip (exit out, decision back, next exit out) of one vCPU: p50 <= 1.5x echo;
//   beside it, the same with the server not polling for the answer (src/stream/poll.ts) and the
//   echo made busy per frame for faultline's extra CPU per round trip (no target for either);
// - throughput, 64 vCPUs over 16 VMs on one controller socket: >= 0.6x echo frames/s with
//   64 frames in flight;
// - fan-out: one VM's exits to 100 observers (their own process); the controller's round
//   trip stays within 1.5x its value with no observers.
// Run: node --import tsx bench/stream.bench.ts (or npm run bench -- stream).
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join, relative } from 'node:path'
import { loadConfig } from '../src/config.js'
import { localServer } from '../src/local-server.js'
import { cpuSeconds } from './lib/proc.js'
import { histogram, median, percentile, report } from './lib/report.js'
import type { EchoRttResult, ExitRttResult, Job, RttResult, ThroughputResult } from './lib/stream-client.js'
import { latencySvg } from './lib/svg.js'

const here = dirname(fileURLToPath(import.meta.url))
const TOKEN = 'bench-operator-token-0000'
const EXIT_EVERY_STEP = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }]
const quick = process.env.BENCH_QUICK === '1'
/** BENCH_ONLY=rtt|throughput|fanout runs one part (for profiling). */
const only = process.env.BENCH_ONLY
const runs = (part: string): boolean => only === undefined || only === part

const server = await localServer({
  tokens: [{ token: TOKEN, tenant: 'bench', role: 'operator' }],
  settings: {
    rateLimitPerMinute: 0,
    maxEventLoopDelayMs: 0,
    version: 'bench',
    stream: {
      ...loadConfig({}).stream,
      // The fan-out part opens 100 observer sockets with one token.
      maxSocketsPerToken: 1000,
      // BENCH_FLUSH_MS tries another observer batch interval (src/stream/options.ts).
      ...(process.env.BENCH_FLUSH_MS !== undefined ? { observerFlushMs: Number(process.env.BENCH_FLUSH_MS) } : {})
    }
  }
})
const { app } = server
const api = server.url

// The baseline: a bare ws server that sends every frame straight back.
// The baseline: a bare ws echo server in its own process (bench/lib/echo-server.ts).
/** Starts bench/lib/echo-server.ts (busy `busyUs` per frame); resolves with its process and URL. */
async function echoServer (busyUs = 0): Promise<{ process: ChildProcess, url: string }> {
  const p = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib', 'echo-server.ts'), String(busyUs)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    p.stdout.once('data', (d: Buffer) => { resolve((JSON.parse(d.toString()) as { port: number }).port) })
    p.once('exit', (code) => { reject(new Error(`the echo server exited (${code ?? 'signal'})`)) })
  })
  return { process: p, url: `ws://127.0.0.1:${port}` }
}
const { process: echoProcess, url: echo } = await echoServer()

async function createVm (vcpus: number, on = app): Promise<string> {
  const r = await on.inject({
    method: 'POST',
    url: '/v1/vms',
    headers: { authorization: `Bearer ${TOKEN}` },
    payload: { type: 'default', vcpus, memory: { size_mib: 1 }, program: EXIT_EVERY_STEP }
  })
  if (r.statusCode !== 201) throw new Error(`create VM: ${r.body}`)
  return (r.json() as { id: string }).id
}

/** Server CPU (user + system) since `from`, per round trip (warm-up rounds included: ~1000). */
function cpuPerRoundTrip (from: NodeJS.CpuUsage, samples: number): number {
  const u = process.cpuUsage(from)
  return (u.user + u.system) / (samples + 1000)
}

/** Runs a client job in its own process; resolves with its JSON result. */
async function client<T> (job: Job): Promise<T> {
  // BENCH_CLIENT_NODE_ARGS (e.g. "--cpu-prof") profiles the client too.
  const extra = (process.env.BENCH_CLIENT_NODE_ARGS ?? '').split(' ').filter(a => a !== '')
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', join(here, 'lib/stream-client.ts'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`client ${job.kind} exited with ${code}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as T
}

console.log('\n# stream (GET /v1/stream) against a bare ws echo, same run, client in its own process')

// ---- 1. exit round trip, one vCPU ----
if (runs('rtt')) {
const vmRtt = await createVm(1)
const blocks = quick ? 2 : 5
const perBlock = quick ? 1000 : 4000
// Each side's CPU per round trip (the server here, the echo from /proc): warm-up included,
// and each is idle while the other's blocks run.
const rttCpu0 = process.cpuUsage()
const echoCpu0 = cpuSeconds(echoProcess.pid ?? 0)
const rtt = await client<RttResult>({ kind: 'rtt', api, echo, token: TOKEN, vm: vmRtt, blocks, perBlock })
const rttCpu = process.cpuUsage(rttCpu0)
const roundTrips = 2000 + blocks * perBlock
const serverCpuPerRt = (rttCpu.user + rttCpu.system) / roundTrips
const echoCpuPerRt = (cpuSeconds(echoProcess.pid ?? 0) - echoCpu0) * 1e6 / roundTrips
// The same round trips against a server that does not poll for the answer (src/stream/poll.ts),
// alternated with the echo again: what the polling buys, in the same run.
const asleep = await localServer({ tokens: [{ token: TOKEN, tenant: 'bench', role: 'operator' }], settings: { rateLimitPerMinute: 0, maxEventLoopDelayMs: 0, version: 'bench', stream: { ...loadConfig({}).stream, pollUs: 0 } } })
const asleepVm = await createVm(1, asleep.app)
const asleepCpu0 = process.cpuUsage()
const rttAsleep = await client<RttResult>({ kind: 'rtt', api: asleep.url, echo, token: TOKEN, vm: asleepVm, blocks, perBlock })
const asleepCpu = process.cpuUsage(asleepCpu0)
await asleep.app.close()
const asleepCpuPerRt = (asleepCpu.user + asleepCpu.system) / roundTrips
// What the server's work alone costs a round trip on this machine: the plain echo made busy
// for the CPU time faultline spends per round trip beyond the echo's own (not polling, so
// that it is work, not time spent waiting for the answer).
const extraUs = Math.max(0, Math.round(asleepCpuPerRt - echoCpuPerRt))
const busyEcho = await echoServer(extraUs)
const echoes = await client<EchoRttResult>({ kind: 'echo-rtt', echo, busyEcho: busyEcho.url, bytes: rtt.frameBytes, blocks, perBlock })
busyEcho.process.kill()
const rttP50 = median(rtt.exitUs)
const echoP50 = median(rtt.echoUs)
report(`exit round trip, 1 vCPU (frame ${rtt.frameBytes} B)`, [
  { name: 'exit round trip p50', value: rttP50, unit: 'µs', baseline: { name: 'ws echo p50', value: echoP50 }, target: '<= 1.5x echo', pass: rttP50 <= 1.5 * echoP50 },
  { name: 'exit round trip p99', value: percentile(rtt.exitUs, 99), unit: 'µs', baseline: { name: 'ws echo p99', value: percentile(rtt.echoUs, 99) } },
  { name: 'exit round trip p50, server not polling (FAULTLINE_WS_POLL_US=0)', value: median(rttAsleep.exitUs), unit: 'µs', baseline: { name: 'ws echo p50 (same blocks)', value: median(rttAsleep.echoUs) } },
  { name: `ws echo busy ${extraUs} µs per frame, p50`, value: median(echoes.busyUs), unit: 'µs', baseline: { name: 'ws echo p50 (same blocks)', value: median(echoes.echoUs) } }
])
console.log(`    CPU per round trip: faultline's server ${serverCpuPerRt.toFixed(1)} µs polling, ${asleepCpuPerRt.toFixed(1)} µs not; the echo server ${echoCpuPerRt.toFixed(1)} µs; the busy echo spends the difference not polling`)
histogram('exit round trip', rtt.exitUs)
histogram('ws echo round trip', rtt.echoUs)
// The README's chart, from a full run only (a quick run's samples are too few to show).
if (!quick) {
  const file = join(here, '..', 'docs', 'bench', 'exit-latency.svg')
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, latencySvg(`exit round trip (1 vCPU) beside a ws echo, ${new Date().toISOString().slice(0, 10)}`, [
    { name: 'faultline exit round trip', samplesUs: rtt.exitUs, color: '#c0392b' },
    { name: 'ws echo round trip', samplesUs: rtt.echoUs, color: '#2c6fbb' }
  ]))
  console.log(`    chart: ${relative(process.cwd(), file)}`)
}
}

// ---- 2. throughput, 64 vCPUs over 16 VMs, one controller socket ----
if (runs('throughput')) {
const vms16: string[] = []
for (let i = 0; i < 16; i++) vms16.push(await createVm(4))
const tputSeconds = quick ? 1 : 3
const tputCpu0 = process.cpuUsage()
const tput = await client<ThroughputResult>({ kind: 'throughput', api, echo, token: TOKEN, vms: vms16, seconds: tputSeconds, inFlight: 64 })
const tputCpu = process.cpuUsage(tputCpu0)
report('throughput, 64 vCPUs / 16 VMs on one socket', [
  { name: 'exits decided per second', value: tput.exitsPerSec, unit: '/s', baseline: { name: 'ws echo, 64 in flight', value: tput.echoPerSec }, target: '>= 0.6x echo', pass: tput.exitsPerSec >= 0.6 * tput.echoPerSec }
])
console.log(`    rounds (faultline / echo, /s): ${tput.rounds.map(r => `${(r.exitsPerSec / 1000).toFixed(1)}k / ${(r.echoPerSec / 1000).toFixed(1)}k`).join(', ')}`)
// Every exit the controller decided, warm-up included (the server is idle while the echo runs).
console.log(`    server CPU per exit: about ${((tputCpu.user + tputCpu.system) / tput.exits).toFixed(1)} µs`)
}

// ---- 3. fan-out: one VM to 100 observers ----
if (runs('fanout')) {
const vmFan = await createVm(1)
const samples = quick ? 2000 : 10_000
// The server's own CPU per round trip, beside the latency: what the observers cost it.
let cpu0 = process.cpuUsage()
const alone = await client<ExitRttResult>({ kind: 'exit-rtt', api, token: TOKEN, vm: vmFan, samples })
const aloneCpu = cpuPerRoundTrip(cpu0, samples)
const observers = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib/stream-observers.ts'),
  JSON.stringify({ url: api.replace(/^http/, 'ws') + '/v1/stream', token: TOKEN, vm: vmFan, n: 100 })], { stdio: ['pipe', 'pipe', 'inherit'] })
let obsOut = ''
await new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('observers: not ready in 30 s')), 30_000)
  observers.stdout.on('data', (d: Buffer) => { obsOut += d.toString(); if (obsOut.includes('ready\n')) { clearTimeout(timer); resolve() } })
})
cpu0 = process.cpuUsage()
const watched = await client<ExitRttResult>({ kind: 'exit-rtt', api, token: TOKEN, vm: vmFan, samples })
const watchedCpu = cpuPerRoundTrip(cpu0, samples)
observers.stdin.end()
await new Promise(resolve => observers.once('exit', resolve))
const obsResult = JSON.parse(obsOut.trim().split('\n').at(-1) ?? '{}') as { frames: number, open: number }
const aloneP50 = median(alone.exitUs)
const watchedP50 = median(watched.exitUs)
report('fan-out: one VM\'s exits to 100 observers', [
  { name: 'round trip p50, 100 observers', value: watchedP50, unit: 'µs', baseline: { name: 'no observers', value: aloneP50 }, target: '<= 1.5x alone', pass: watchedP50 <= 1.5 * aloneP50 },
  { name: 'round trip p99, 100 observers', value: percentile(watched.exitUs, 99), unit: 'µs', baseline: { name: 'no observers', value: percentile(alone.exitUs, 99) } }
])
console.log(`    observers: ${obsResult.open}/100 still open, ${obsResult.frames} frames received`)
console.log(`    server CPU per round trip: ${aloneCpu.toFixed(1)} µs alone, ${watchedCpu.toFixed(1)} µs with 100 observers`)
histogram('round trip with 100 observers', watched.exitUs)
}

echoProcess.kill()
await app.close()

// The scale bench's controller process (bench/scale.bench.ts serves): one socket that
// controls every VM of the job and decides every exit (convert for conversions and memory
// faults, resume for the rest), timing each vCPU's decision round trip: from the decision
// sent to that vCPU's next exit received. Run as `node --import tsx bench/lib/scale-client.ts
// '<job json>'`; progress on stderr, the result as one JSON line on stdout. Bounded by the
// job's seconds and a deadline; 127.0.0.1 only.
import WebSocket from 'ws'
import { progress } from './report.js'

export interface ScaleJob {
  api: string
  token: string
  vms: string[]
  vcpus: number
  warmupS: number
  seconds: number
  /** Start the VMs (else they run already, their pending exits redelivered on subscribe). */
  start: boolean
}
export interface ScaleResult {
  exits: number
  exitsPerSec: number
  /** Decision round trips of the measured window, µs, in a log2-spaced summary. */
  rtt: { n: number, mean: number, p50: number, p90: number, p99: number, p999: number, max: number }
  /** Exits per vCPU over the window: how evenly the turns went round. */
  perVcpu: { vcpus: number, min: number, p50: number, max: number, idle: number }
  /** This client's CPU use over the window, as a share of one core. */
  clientCpu: number
  /** The window, in process.hrtime µs (the same monotonic clock in every process). */
  window: [number, number]
  /** The longest any vCPU waited between its decision and its next exit, µs, counting one still waiting when the window closed. */
  longestWaitUs: number
}

const DEADLINE_MS = 120_000
const now = (): number => Number(process.hrtime.bigint()) / 1000
const job = JSON.parse(process.argv[2] ?? '{}') as ScaleJob

async function rest (method: string, path: string, body?: unknown): Promise<void> {
  const r = await fetch(job.api + path, {
    method,
    headers: { authorization: `Bearer ${job.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  await r.arrayBuffer()
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status}`)
}

const ws = new WebSocket(job.api.replace(/^http/, 'ws') + '/v1/stream', { headers: { authorization: `Bearer ${job.token}` }, perMessageDeflate: false })
await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })

// Per vCPU (index: VM index * vcpus + vcpu): when its last decision went, and exits counted.
const index = new Map(job.vms.map((vm, i) => [vm, i]))
const total = job.vms.length * job.vcpus
const sentAt = new Float64Array(total).fill(-1)
const counts = new Uint32Array(total)
let measuring = false
let exits = 0
const rtts: number[] = []
let subscribed = 0
let failure: Error | undefined

const allSubscribed = new Promise<void>((resolve) => {
  ws.on('message', (data: Buffer) => {
    // Only exits need an answer; their type comes first.
    if (data[9] === 0x65 && data.toString('latin1', 0, 14) === '{"type":"exit"') {
      const t = now()
      const m = JSON.parse(data.toString()) as { vm: string, exit: number, vcpu: number, reason: string, pending: boolean }
      if (!m.pending) return
      const k = (index.get(m.vm) ?? 0) * job.vcpus + m.vcpu
      const sent = sentAt[k] as number
      sentAt[k] = -1
      if (measuring) {
        exits++
        counts[k] = (counts[k] as number) + 1
        if (sent >= 0) rtts.push(t - sent)
      }
      const action = m.reason === 'KVM_EXIT_HYPERCALL' || m.reason === 'KVM_EXIT_MEMORY_FAULT' ? 'convert' : 'resume'
      ws.send(`{"type":"decision","vm":"${m.vm}","exit":${m.exit},"action":"${action}"}`)
      sentAt[k] = now()
      return
    }
    if (data[9] === 0x64 && data.toString('latin1', 0, 17) === '{"type":"decided"') return
    const m = JSON.parse(data.toString()) as { type: string, code?: string }
    if (m.type === 'subscribed' && ++subscribed === job.vms.length) resolve()
    if (m.type === 'error') failure ??= new Error(`stream error ${m.code ?? ''}: ${data.toString().slice(0, 300)}`)
  })
})
for (const vm of job.vms) ws.send(JSON.stringify({ type: 'subscribe', vm, role: 'controller' }))
await allSubscribed
for (const [i, vm] of job.vms.entries()) {
  if (!job.start) break
  await rest('POST', `/v1/vms/${vm}/actions`, { action: 'start' })
  if ((i + 1) % 100 === 0 || i + 1 === job.vms.length) progress('VMs started', i + 1, job.vms.length)
}
const deadline = setTimeout(() => { process.stderr.write('scale client: deadline\n'); process.exit(2) }, DEADLINE_MS)
await new Promise(resolve => setTimeout(resolve, job.warmupS * 1000))
measuring = true
const t0 = now()
const cpu0 = process.cpuUsage()
for (let s = 1; s <= job.seconds; s++) {
  await new Promise(resolve => setTimeout(resolve, 1000))
  progress('measuring', s, job.seconds)
}
measuring = false
const cpu = process.cpuUsage(cpu0)
const tEnd = now()
const elapsed = (tEnd - t0) / 1e6
let outstanding = 0
for (const sent of sentAt) if (sent >= 0) outstanding = Math.max(outstanding, tEnd - sent)
clearTimeout(deadline)
ws.terminate()
if (failure !== undefined) throw failure

const sorted = Float64Array.from(rtts).sort()
const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] ?? NaN
const perVcpu = Uint32Array.from(counts).sort()
const result: ScaleResult = {
  exits,
  exitsPerSec: exits / elapsed,
  rtt: { n: sorted.length, mean: rtts.reduce((a, b) => a + b, 0) / Math.max(1, rtts.length), p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: sorted[sorted.length - 1] ?? NaN },
  perVcpu: { vcpus: total, min: perVcpu[0] ?? 0, p50: perVcpu[Math.floor(total / 2)] ?? 0, max: perVcpu[total - 1] ?? 0, idle: perVcpu.filter(c => c === 0).length },
  clientCpu: (cpu.user + cpu.system) / (tEnd - t0),
  window: [t0, tEnd],
  longestWaitUs: Math.max(sorted[sorted.length - 1] ?? 0, outstanding)
}
// stdout is a pipe: exit only once the result is written (process.exit would cut it).
process.stdout.write(JSON.stringify(result, (_k, v: unknown) => typeof v === 'number' ? Math.round(v * 10) / 10 : v) + '\n', () => process.exit(0))

// The stream bench's client process: it measures, the server process (stream.bench.ts)
// serves. Run as `node --import tsx bench/lib/stream-client.ts '<job json>'`; progress goes
// to stderr, the result as one JSON line to stdout. Every loop is bounded by a count and a
// deadline, and every socket goes to 127.0.0.1.
import WebSocket from 'ws'
import { median, progress } from './report.js'

export type Job =
  | { kind: 'rtt', api: string, echo: string, token: string, vm: string, blocks: number, perBlock: number }
  | { kind: 'throughput', api: string, echo: string, token: string, vms: string[], seconds: number, inFlight: number }
  | { kind: 'exit-rtt', api: string, token: string, vm: string, samples: number }
  | { kind: 'echo-rtt', echo: string, busyEcho: string, bytes: number, blocks: number, perBlock: number }

export interface RttResult { echoUs: number[], exitUs: number[], frameBytes: number }
/** Medians over alternated rounds, and each round's rates (a faultline window, then an echo window). */
export interface ThroughputResult { exitsPerSec: number, echoPerSec: number, rounds: { exitsPerSec: number, echoPerSec: number }[], exits: number }
export interface ExitRttResult { exitUs: number[] }
export interface EchoRttResult { echoUs: number[], busyUs: number[] }

const DEADLINE_MS = 60_000
const now = (): number => Number(process.hrtime.bigint()) / 1000

async function open (url: string, token?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  return ws
}

async function rest (api: string, token: string, method: string, path: string, body?: unknown): Promise<number> {
  const r = await fetch(api + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  await r.arrayBuffer()
  return r.status
}

/** A controller socket on `vms` that decides every exit with resume as soon as it arrives. */
class Controller {
  exits = 0
  frameBytes = 0
  onExit: ((t: number) => void) | undefined
  /** While held, decisions wait here (the vCPUs stay in their exits), sent at release. */
  held: string[] | undefined
  private constructor (readonly ws: WebSocket) {}

  hold (): void { this.held ??= [] }
  release (): void {
    const held = this.held ?? []
    this.held = undefined
    for (const d of held) this.ws.send(d)
  }

  static async open (api: string, token: string, vms: string[]): Promise<Controller> {
    const ws = await open(api.replace(/^http/, 'ws') + '/v1/stream', token)
    const c = new Controller(ws)
    // Plain ws.send per frame, no corking: the same client work as the echo baseline's.
    const send = (data: string): void => { ws.send(data) }
    let subscribed = 0
    const allSubscribed = new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        // Cheap routing: only exits need an answer, and their type comes first.
        if (data[9] === 0x65 && data.toString('latin1', 0, 14) === '{"type":"exit"') {
          const t = now()
          const m = JSON.parse(data.toString()) as { vm: string, exit: number }
          const decision = `{"type":"decision","vm":"${m.vm}","exit":${m.exit},"action":"resume"}`
          if (c.held !== undefined) c.held.push(decision)
          else send(decision)
          c.exits++
          c.frameBytes = data.length
          c.onExit?.(t)
          return
        }
        // The decided events of its own decisions: nothing to do.
        if (data[9] === 0x64 && data.toString('latin1', 0, 17) === '{"type":"decided"') return
        const m = JSON.parse(data.toString()) as { type: string, code?: string }
        if (m.type === 'subscribed' && ++subscribed === vms.length) resolve()
        if (m.type === 'error') reject(new Error(`stream error ${m.code ?? ''}: ${data.toString()}`))
      })
    })
    for (const vm of vms) ws.send(JSON.stringify({ type: 'subscribe', vm, role: 'controller', takeover: true }))
    await allSubscribed
    for (const vm of vms) await rest(api, token, 'POST', `/v1/vms/${vm}/actions`, { action: 'start' })
    return c
  }
}

/** Measures `n` gaps between consecutive exits (exit out → decision back → next exit out). */
async function exitGaps (c: Controller, n: number): Promise<number[]> {
  const out: number[] = []
  let last = -1
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('exit round trips: deadline')), DEADLINE_MS)
    c.onExit = (t) => {
      if (last >= 0) out.push(t - last)
      last = t
      if (out.length >= n) { clearTimeout(timer); c.onExit = undefined; resolve() }
    }
  })
  return out
}

/** `n` echo round trips of a `bytes`-long text frame, one at a time. */
async function echoRtts (ws: WebSocket, bytes: number, n: number): Promise<number[]> {
  const payload = '{"type":"echo","pad":"' + 'x'.repeat(Math.max(0, bytes - 24)) + '"}'
  const out: number[] = []
  let t0 = 0
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo: deadline')), DEADLINE_MS)
    const onMessage = (): void => {
      out.push(now() - t0)
      if (out.length >= n) { clearTimeout(timer); ws.off('message', onMessage); resolve(); return }
      t0 = now()
      ws.send(payload)
    }
    ws.on('message', onMessage)
    t0 = now()
    ws.send(payload)
  })
  return out
}

async function rtt (job: Extract<Job, { kind: 'rtt' }>): Promise<RttResult> {
  const echo = await open(job.echo)
  const c = await Controller.open(job.api, job.token, [job.vm])
  // Warm up both paths (JIT, buffers), then alternate blocks so drift hits both alike.
  // While the echo is measured the controller holds its decision (the vCPU waits in its
  // exit), so that neither side's block runs beside the other's load.
  await exitGaps(c, 2000)
  const bytes = c.frameBytes
  c.hold()
  await echoRtts(echo, bytes, 2000)
  const echoUs: number[] = []
  const exitUs: number[] = []
  for (let b = 0; b < job.blocks; b++) {
    echoUs.push(...await echoRtts(echo, bytes, job.perBlock))
    const gaps = exitGaps(c, job.perBlock)
    c.release()
    exitUs.push(...await gaps)
    c.hold()
    progress('round trips', b + 1, job.blocks)
  }
  echo.close()
  c.ws.close()
  return { echoUs, exitUs, frameBytes: bytes }
}

async function exitRtt (job: Extract<Job, { kind: 'exit-rtt' }>): Promise<ExitRttResult> {
  const c = await Controller.open(job.api, job.token, [job.vm])
  await exitGaps(c, 1000)
  const exitUs = await exitGaps(c, job.samples)
  c.ws.close()
  return { exitUs }
}

/** The plain echo and the busy one (bench/lib/echo-server.ts), in alternated blocks. */
async function echoRtt (job: Extract<Job, { kind: 'echo-rtt' }>): Promise<EchoRttResult> {
  const echo = await open(job.echo)
  const busy = await open(job.busyEcho)
  await echoRtts(echo, job.bytes, 1000)
  await echoRtts(busy, job.bytes, 1000)
  const echoUs: number[] = []
  const busyUs: number[] = []
  for (let b = 0; b < job.blocks; b++) {
    echoUs.push(...await echoRtts(echo, job.bytes, job.perBlock))
    busyUs.push(...await echoRtts(busy, job.bytes, job.perBlock))
    progress('busy echo round trips', b + 1, job.blocks)
  }
  echo.close()
  busy.close()
  return { echoUs, busyUs }
}

async function throughput (job: Extract<Job, { kind: 'throughput' }>): Promise<ThroughputResult> {
  // Rounds alternate a faultline window and an echo window (the other side held, its frames
  // parked), so that drift and noise on the 2 cores hit both alike; the medians are reported.
  const ROUNDS = job.seconds >= 3 ? 5 : 2
  const windowMs = (job.seconds * 1000) / ROUNDS
  const settle = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 150))
  // Exits: every vCPU of every VM round-trips through this one socket.
  const c = await Controller.open(job.api, job.token, job.vms)
  // Echo: the same frame size with `inFlight` frames outstanding.
  const echo = await open(job.echo)
  let echoes = 0
  let echoHeld = 0
  let echoHolding = true
  let payload = ''
  echo.on('message', () => {
    echoes++
    if (echoHolding) echoHeld++
    else echo.send(payload)
  })
  await new Promise(resolve => setTimeout(resolve, 500))
  payload = '{"type":"echo","pad":"' + 'x'.repeat(Math.max(0, c.frameBytes - 24)) + '"}'
  echoHeld = job.inFlight
  const rounds: ThroughputResult['rounds'] = []
  for (let r = 0; r < ROUNDS; r++) {
    c.release()
    await settle()
    const e0 = c.exits
    const t0 = now()
    await new Promise(resolve => setTimeout(resolve, windowMs))
    const exitsPerSec = (c.exits - e0) / ((now() - t0) / 1e6)
    c.hold()
    await settle()
    echoHolding = false
    for (; echoHeld > 0; echoHeld--) echo.send(payload)
    await settle()
    const n0 = echoes
    const t1 = now()
    await new Promise(resolve => setTimeout(resolve, windowMs))
    const echoPerSec = (echoes - n0) / ((now() - t1) / 1e6)
    echoHolding = true
    await settle()
    rounds.push({ exitsPerSec, echoPerSec })
    progress('throughput rounds', r + 1, ROUNDS)
  }
  for (const vm of job.vms) await rest(job.api, job.token, 'POST', `/v1/vms/${vm}/actions`, { action: 'pause' })
  c.ws.close()
  echo.terminate()
  return { exitsPerSec: median(rounds.map(r => r.exitsPerSec)), echoPerSec: median(rounds.map(r => r.echoPerSec)), rounds, exits: c.exits }
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job
const result = job.kind === 'rtt'
  ? await rtt(job)
  : job.kind === 'throughput' ? await throughput(job) : job.kind === 'echo-rtt' ? await echoRtt(job) : await exitRtt(job)
// stdout is a pipe: exit only once the result is written (process.exit would cut it).
process.stdout.write(JSON.stringify(result, (_k, v: unknown) => typeof v === 'number' ? Math.round(v * 10) / 10 : v) + '\n', () => process.exit(0))

// kill -9 at random moments under load, from a test that runs the server as its own process:
// every event a client saw before a crash is there after it, identical and at the same seq;
// no seq or exit id is ever reused; and the exits after recovery are those an uninterrupted
// run with the same decisions makes. The first stop is a graceful SIGTERM, which must lose
// nothing either: each VM's view (policy, counters, seq) is the same after it.
//
// Why 1-vCPU VMs: a VM with several vCPUs interleaves them by timing (which vCPU's slice
// ran when), so "the exits an uninterrupted run makes" is only defined per vCPU. One vCPU
// waits on each exit until it is decided, so its whole event sequence is fixed by its
// config and the decisions: the reference run below (in process, no store) must match it.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import WebSocket from 'ws'
import { Control } from '../../src/control/index.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { ControlEvent } from '../../src/control/index.js'
import type { CreateVmBody } from '../../schemas/vm.js'
import { settle } from '../helper.js'
import { admin } from '../control/fixtures.js'
import { CHILD_TOKEN, startChild, stopChild } from '../e2e/child-server.js'
import type { ChildServer } from '../e2e/child-server.js'

const BODIES: CreateVmBody[] = [
  { type: 'tdx', vcpus: 1, preset: 'conversion-storm', seed: 5 },
  { type: 'snp', vcpus: 1, preset: 'conversion-storm', seed: 9, policy: { decision_timeout_ms: 600_000, on_timeout: 'kill', rules: [{ reason: 'KVM_EXIT_MEMORY_FAULT', action: 'convert' }] } },
  { type: 'default', vcpus: 1, preset: 'io-heavy', name: 'io' }
]
/** Exits each VM makes before the run is compared. */
const TARGET = 700
/** The same decision for the same exit, whoever makes it and however often. */
const decide = (exit: number, reason: string): 'convert' | 'resume' => reason === 'KVM_EXIT_HYPERCALL' && exit % 2 === 0 ? 'convert' : reason === 'KVM_EXIT_HYPERCALL' || reason === 'KVM_EXIT_MEMORY_FAULT' ? 'convert' : 'resume'

interface Frame { type: string, vm?: string, seq?: number, exit?: number, reason?: string, pending?: boolean }

/** The reference: the same VMs in process, no store, no crash; every event frame per VM, by seq. */
async function reference (): Promise<string[][]> {
  const c = new Control()
  try {
    const out: string[][] = []
    for (const body of BODIES) {
      const frames: string[] = []
      const unsub = c.subscribe({ all: true }, (e: ControlEvent) => { frames.push(e.frame.replaceAll(e.vm, 'VM')) })
      const id = c.createVm(admin, body).id
      c.act(admin, id, 'start', 'rest')
      let exits = 0
      // A few more than the target: the run under test may have made the next ones too.
      while (exits < TARGET + 4) {
        await settle(1)
        for (const e of c.pendingExitEvents(admin, id)) {
          const f = JSON.parse(e.frame) as Frame
          c.decide(admin, id, f.exit as number, { action: decide(f.exit as number, f.reason as string) }, 'controller')
        }
        exits = frames.filter(f => f.startsWith('{"type":"exit"')).length
      }
      unsub()
      c.act(admin, id, 'kill')
      out.push(frames)
    }
    return out
  } finally {
    c.close()
  }
}

const http = async (port: number, method: string, path: string, body?: unknown): Promise<unknown> => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${CHILD_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
  return r.status === 204 ? null : await r.json()
}

/** What the client saw, per VM: frames by seq, and exit ids met. */
class Seen {
  readonly bySeq = new Map<string, Map<number, string>>()
  readonly problems: string[] = []
  exits (vm: string): number {
    let n = 0
    for (const f of this.bySeq.get(vm)?.values() ?? []) if (f.startsWith('{"type":"exit"')) n++
    return n
  }

  add (vm: string, seq: number, frame: string): void {
    let m = this.bySeq.get(vm)
    if (m === undefined) { m = new Map(); this.bySeq.set(vm, m) }
    const was = m.get(seq)
    if (was !== undefined && was !== frame) this.problems.push(`${vm} seq ${seq} was ${was}, now ${frame}`)
    m.set(seq, frame)
  }
}

/**
 * A controller for every VM: subscribes with since=0 (the whole journal comes back) and
 * decides what is pending. Exits of the replay wait until the replay is over (their
 * `decided` may follow in it); later ones are decided as they come.
 */
function control (port: number, vms: string[], seen: Seen, paused: () => boolean): { ws: WebSocket, closed: Promise<void>, got: Seen } {
  const got = new Seen()
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, ['faultline.v1'], { headers: { authorization: `Bearer ${CHILD_TOKEN}` } })
  const closed = new Promise<void>(resolve => { ws.on('close', () => { resolve() }); ws.on('error', () => { resolve() }) })
  const replayEnd = new Map<string, number>()
  const waiting = new Map<string, Map<number, Frame>>(vms.map(vm => [vm, new Map()]))
  const send = (f: Frame): void => {
    if (paused() || seen.exits(f.vm as string) > TARGET) return
    ws.send(JSON.stringify({ type: 'decision', vm: f.vm, exit: f.exit, action: decide(f.exit as number, f.reason as string) }))
  }
  const flush = (vm: string): void => {
    const w = waiting.get(vm) as Map<number, Frame>
    for (const f of w.values()) send(f)
    w.clear()
  }
  ws.on('open', () => {
    for (const vm of vms) ws.send(JSON.stringify({ type: 'subscribe', vm, role: 'controller', since: 0 }))
  })
  ws.on('message', (data: Buffer) => {
    const text = data.toString()
    const f = JSON.parse(text) as Frame & { seq?: number }
    if (f.type === 'subscribed' && f.vm !== undefined) { replayEnd.set(f.vm, f.seq ?? 0); if (f.seq === 0) flush(f.vm); return }
    if (f.vm === undefined || f.seq === undefined || !['exit', 'decided', 'state'].includes(f.type)) return
    seen.add(f.vm, f.seq, text)
    got.add(f.vm, f.seq, text)
    const end = replayEnd.get(f.vm) ?? Infinity
    const w = waiting.get(f.vm) as Map<number, Frame>
    if (f.type === 'decided') w.delete(f.exit as number)
    if (f.type === 'exit' && f.pending === true) {
      if (f.seq <= end) w.set(f.exit as number, f)
      else send(f)
    }
    if (f.seq === end) flush(f.vm)
  })
  return { ws, closed, got }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

void t.test('kill -9 at random moments loses nothing a client saw, and the run goes on as if uninterrupted', async t => {
  const data = mkdtempSync(join(tmpdir(), 'faultline-crash-'))
  t.teardown(() => { rmSync(data, { recursive: true, force: true }) })
  const expected = await reference()
  const seen = new Seen()
  let child: ChildServer = await startChild({ FAULTLINE_DATA_DIR: data, LOG_LEVEL: 'info' })
  t.teardown(() => { stopChild(child) })
  const vms: string[] = []
  for (const body of BODIES) vms.push(((await http(child.port, 'POST', '/v1/vms', body)) as { id: string }).id)
  let paused = false
  let conn = control(child.port, vms, seen, () => paused)
  await sleep(100)
  for (const vm of vms) await http(child.port, 'POST', `/v1/vms/${vm}/actions`, { action: 'start' })

  const stops: Array<'SIGTERM' | 'SIGKILL'> = ['SIGTERM', 'SIGKILL', 'SIGKILL', 'SIGKILL']
  for (const signal of stops) {
    await sleep(50 + Math.floor(Math.random() * 400))
    let views: unknown = null
    if (signal === 'SIGTERM') {
      // Graceful: decisions stop, the VMs settle on pending exits, and their views must come back as they are.
      paused = true
      await sleep(200)
      views = await http(child.port, 'GET', '/v1/vms')
    }
    const before = new Map([...seen.bySeq].map(([vm, m]) => [vm, new Map(m)]))
    child.proc.kill(signal)
    const exit = await child.exited
    if (signal === 'SIGTERM') t.same(exit, { code: 0, signal: null }, 'SIGTERM: exit 0')
    await conn.closed
    // The file itself, recovered here before anything runs: a VM running on after the
    // restart would make lost events again, identical (it is deterministic), and hide them.
    const kept = new Control({ store: SqliteStore.open(join(data, 'faultline.db')) })
    for (const vm of vms) {
      const was = before.get(vm) ?? new Map<number, string>()
      const inFile = new Map(kept.replay(admin, vm, 0).map(e => [e.seq, e.frame]))
      const missing = [...was].filter(([seq, f]) => inFile.get(seq) !== f).map(([seq]) => seq)
      t.same(missing, [], `${signal}: the file holds each of the ${was.size} events seen of ${vm}, identical`)
    }
    kept.close()
    child = await startChild({ FAULTLINE_DATA_DIR: data, LOG_LEVEL: 'info' })
    if (views !== null) t.same(await http(child.port, 'GET', '/v1/vms'), views, 'after SIGTERM: every VM as it was (policy, counters, seq, state)')
    paused = false
    conn = control(child.port, vms, seen, () => paused)
    const replayed = conn.got
    // Until each VM's replay has reached what was seen before the stop.
    for (let i = 0; i < 200; i++) {
      if (vms.every(vm => Math.max(0, ...(replayed.bySeq.get(vm)?.keys() ?? [])) >= Math.max(0, ...(before.get(vm)?.keys() ?? [])))) break
      await sleep(25)
    }
    for (const vm of vms) {
      const was = before.get(vm) ?? new Map<number, string>()
      const now = replayed.bySeq.get(vm) ?? new Map<number, string>()
      const lost = [...was].filter(([seq, f]) => now.get(seq) !== f)
      t.same(lost, [], `${signal}: each of the ${was.size} events seen of ${vm} is back, identical`)
    }
  }
  // Run on to the target and compare with the uninterrupted reference.
  for (let i = 0; i < 600 && vms.some(vm => seen.exits(vm) < TARGET); i++) await sleep(50)
  conn.ws.close()
  t.same(seen.problems, [], 'no seq was ever reused for another event')
  for (const f of readdirSync(data).filter(f => f.startsWith('faultline.db'))) {
    t.notOk(readFileSync(join(data, f)).includes(CHILD_TOKEN), `${f} holds no token`)
  }
  vms.forEach((vm, k) => {
    const frames = [...(seen.bySeq.get(vm) ?? new Map<number, string>())].sort((a, b) => a[0] - b[0]).map(([, f]) => f.replaceAll(vm, 'VM'))
    const exits = frames.filter(f => f.startsWith('{"type":"exit"')).map(f => (JSON.parse(f) as Frame).exit)
    t.equal(new Set(exits).size, exits.length, `${vm}: no exit id reused`)
    const want = (expected[k] ?? []).slice(0, frames.length)
    t.ok(exits.length >= TARGET, `${vm}: ${exits.length} exits`)
    t.same(frames, want, `${vm}: the same events as the uninterrupted run`)
  })
})

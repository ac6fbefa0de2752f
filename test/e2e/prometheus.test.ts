// A real Prometheus scrapes the server on 127.0.0.1 with a bearer token while a scripted
// workload runs (a controller over the stream, a REST decision, a rule, a timeout); then
// every metric family is queried back through Prometheus's HTTP API.
import t from 'tap'
import type { Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FaultlineClient } from '../../src/client/index.js'
import { build, TOKENS } from '../helper.js'

const PROMETHEUS = 'prometheus'
/** How long the scrape may take to show the workload: a few 1 s scrape intervals, with room for a slow machine. */
const DEADLINE_MS = 45_000

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => { if (a === null || typeof a === 'string') reject(new Error('no port')); else resolve(a.port) })
    })
  })
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Starts Prometheus scraping `target` every second; stopped (and its data removed) when the test ends. */
async function startPrometheus (t: Test, target: string, token: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-prometheus-'))
  const port = await freePort()
  // JSON is YAML: no YAML writer needed.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: [{ job_name: 'faultline', metrics_path: '/metrics', authorization: { credentials: token }, static_configs: [{ targets: [target] }] }]
  }))
  const proc: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  proc.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000) })
  t.teardown(async () => {
    if (proc.exitCode === null) {
      const exited = new Promise(resolve => proc.once('exit', resolve))
      proc.kill('SIGTERM')
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${port}`
  const end = Date.now() + DEADLINE_MS
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}): ${stderr}`)
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return url
    } catch { /* not listening yet */ }
    if (Date.now() > end) throw new Error(`prometheus did not become ready: ${stderr}`)
    await sleep(200)
  }
}

interface Sample { metric: Record<string, string>, value: [number, string] }

async function query (prom: string, q: string): Promise<Sample[]> {
  const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`)
  const body = await r.json() as { status: string, data?: { resultType: string, result: Sample[] }, error?: string }
  if (body.status !== 'success' || body.data === undefined) throw new Error(`${q}: ${body.error ?? r.status}`)
  return body.data.result
}

/** What each metric family must show once the workload has been scraped. */
const EXPECT: Array<{ q: string, ok: (v: number[]) => boolean, what: string }> = [
  { q: 'up{job="faultline"}', ok: v => v[0] === 1, what: 'the target is up (the bearer token was accepted)' },
  { q: 'faultline_exits_total{reason="KVM_EXIT_MEMORY_FAULT"}', ok: v => (v[0] ?? 0) >= 2, what: 'memory faults counted' },
  { q: 'faultline_exits_total{reason="KVM_EXIT_IO"}', ok: v => (v[0] ?? 0) >= 5, what: 'I/O exits counted' },
  { q: 'faultline_decisions_total{source="controller"} > 0', ok: v => v.length >= 2, what: 'controller decisions, by action (convert and resume)' },
  { q: 'sum(faultline_decisions_total{source="rest"})', ok: v => v[0] === 1, what: 'one REST decision' },
  { q: 'faultline_decisions_total{source="rule",action="convert"}', ok: v => v[0] === 1, what: 'one rule decision' },
  { q: 'faultline_decisions_total{source="timeout",action="kill"}', ok: v => v[0] === 1, what: 'one timeout' },
  { q: 'histogram_quantile(0.99, sum by (le) (faultline_decision_latency_seconds_bucket{source="controller"}))', ok: v => v[0] !== undefined && v[0] > 0 && v[0] <= 60, what: 'controller decision latency p99 in (0, 60] s' },
  { q: 'faultline_decision_latency_seconds_count{source="timeout"}', ok: v => v[0] === 1, what: 'the timeout\'s latency observed' },
  { q: 'faultline_conversions_total{direction="to_shared"}', ok: v => (v[0] ?? 0) >= 1, what: 'conversions to shared' },
  { q: 'faultline_conversions_total{direction="to_private"}', ok: v => v[0] === 1, what: 'the rule\'s conversion to private' },
  { q: 'faultline_converted_bytes_total{direction="to_private"}', ok: v => v[0] === 4096, what: 'one page converted to private' },
  { q: 'faultline_vms{state="killed",type="default"}', ok: v => v[0] === 1, what: 'the timed-out VM killed' },
  { q: 'sum(faultline_vms)', ok: v => v[0] === 4, what: 'four VMs' },
  { q: 'faultline_pending_exits', ok: v => v.length === 1 && (v[0] ?? -1) >= 0, what: 'pending exits' },
  { q: 'faultline_stream_sockets', ok: v => v[0] === 1, what: 'the controller\'s socket' },
  { q: 'faultline_stream_subscriptions', ok: v => v[0] === 1, what: 'its subscription' },
  { q: 'faultline_stream_controllers', ok: v => v[0] === 1, what: 'one controlled VM' },
  { q: 'faultline_stream_slow_closed_total', ok: v => v[0] === 0, what: 'no slow observer dropped' },
  { q: 'faultline_http_requests_total{method="POST",route="/v1/vms",status_code="201"}', ok: v => v[0] === 4, what: 'four VMs created over REST' },
  { q: 'faultline_http_requests_total{route="/metrics",status_code="200"}', ok: v => (v[0] ?? 0) >= 1, what: 'the scrapes themselves' },
  { q: 'faultline_event_loop_utilization', ok: v => v[0] !== undefined && v[0] >= 0 && v[0] <= 1, what: 'event-loop utilization, a ratio' },
  { q: 'faultline_event_loop_lag_p99_seconds', ok: v => v[0] !== undefined && v[0] >= 0, what: 'event-loop lag' },
  { q: 'faultline_process_resident_memory_bytes', ok: v => (v[0] ?? 0) > 0, what: 'process defaults' }
]

async function workload (client: FaultlineClient): Promise<{ close: () => Promise<void> }> {
  // A controller converts memory faults and resumes the rest, over the stream.
  const ctl = await client.createVm({ type: 'snp', vcpus: 1, memory: { size_mib: 1 }, program: [{ op: 'write', gpa: 0, private: false }, { op: 'repeat', count: 5, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }, { op: 'hlt' }] })
  const stream = client.stream({ reconnect: false })
  await stream.subscribe(ctl.id, { role: 'controller' })
  await client.action(ctl.id, 'start')
  let decided = 0
  for await (const exit of stream.exits()) {
    await stream.decide(ctl.id, exit, exit.reason === 'KVM_EXIT_MEMORY_FAULT' ? 'convert' : 'resume')
    if (exit.reason === 'KVM_EXIT_HLT' || ++decided > 20) break
  }
  // One exit decided over REST.
  const rest = await client.createVm({ type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: [{ op: 'in', port: 2, size: 1 }, { op: 'hlt' }], autostart: true })
  let pending: number | undefined
  for (let i = 0; i < 100 && pending === undefined; i++) {
    pending = (await client.exits(rest.id, { pending: true })).items[0]?.exit
    if (pending === undefined) await sleep(20)
  }
  if (pending === undefined) throw new Error('the REST VM never exited')
  await client.decide(rest.id, pending, 'resume', { data: [7] })
  // A private access to shared memory, converted by a rule inside the server.
  await client.createVm({ type: 'snp', vcpus: 1, memory: { size_mib: 1 }, initial_attributes: 'shared', program: [{ op: 'read', gpa: 4096, private: true }], policy: { rules: [{ reason: 'KVM_EXIT_MEMORY_FAULT', action: 'convert' }] }, autostart: true })
  // An exit nobody answers, killed by the timeout.
  await client.createVm({ type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: [{ op: 'out', port: 3, size: 1, value: 1 }], policy: { decision_timeout_ms: 100, on_timeout: 'kill' }, autostart: true })
  return { close: async () => { await stream.close() } }
}

const found = spawnSync(PROMETHEUS, ['--version'], { stdio: 'ignore' })
if (found.error !== undefined) {
  const why = `${PROMETHEUS} is not on PATH (Debian: apt-get install prometheus)`
  // CI installs it (.ci/run): there its absence is a failure, not a reason to skip.
  if (process.env.CI === 'true') t.fail(`${why}: the scrape test must run in CI`)
  else t.plan(0, `${why}; the real-scrape test needs it`)
} else {
  void t.test('Prometheus scrapes every metric family with a bearer token', async t => {
    const app = await build(t)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const a = app.server.address()
    if (a === null || typeof a === 'string') throw new Error('not listening on TCP')
    const prom = await startPrometheus(t, `127.0.0.1:${a.port}`, TOKENS.admin)
    const client = new FaultlineClient({ url: `http://127.0.0.1:${a.port}`, token: TOKENS.operatorA })
    const running = await workload(client)
    t.teardown(running.close)

    // Scrapes come every second: wait until one after the workload shows all of it.
    const end = Date.now() + DEADLINE_MS
    let last: Array<{ what: string, q: string, values: number[], ok: boolean }> = []
    for (;;) {
      last = await Promise.all(EXPECT.map(async e => {
        const values = (await query(prom, e.q)).map(s => Number(s.value[1]))
        return { what: e.what, q: e.q, values, ok: e.ok(values) }
      }))
      if (last.every(r => r.ok) || Date.now() > end) break
      await sleep(500)
    }
    for (const r of last) t.ok(r.ok, r.what, { query: r.q, values: r.values })
  })
}

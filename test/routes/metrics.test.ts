// /metrics counts what happened: exits by reason, decisions by action and source with their
// latency, conversions by direction, VMs by state and type, REST requests by route pattern.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, bearer, FakeClock, settle, TOKENS } from '../helper.js'
import { listen, WsClient } from '../stream/ws-client.js'
import type { Msg } from '../stream/ws-client.js'

const PAGE = 4096

async function scrape (app: FastifyInstance): Promise<string> {
  const r = await app.inject({ url: '/metrics', headers: bearer(TOKENS.admin) })
  if (r.statusCode !== 200) throw new Error(`/metrics: ${r.statusCode} ${r.body}`)
  return r.body
}

/** The value of one sample line, e.g. sample(body, 'faultline_exits_total{reason="KVM_EXIT_IO"}'). */
function sample (body: string, series: string): number | undefined {
  const line = body.split('\n').find(l => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

async function createVm (app: FastifyInstance, body: Record<string, unknown>): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: bearer(TOKENS.operatorA), payload: { vcpus: 1, memory: { size_mib: 1 }, ...body } })
  if (r.statusCode !== 201) throw new Error(`create VM: ${r.statusCode} ${r.body}`)
  return (r.json() as { id: string }).id
}

async function pendingExit (app: FastifyInstance, vm: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    await settle()
    const r = await app.inject({ url: `/v1/vms/${vm}/exits?pending=true`, headers: bearer(TOKENS.operatorA) })
    const items = (r.json() as { items: Array<{ exit: number }> }).items
    if (items[0] !== undefined) return items[0].exit
  }
  throw new Error(`no pending exit on ${vm}`)
}

void t.test('exits, decisions, latency and conversions are counted by bounded labels', async t => {
  const clock = new FakeClock()
  const app = await build(t, { clock })
  const before = await scrape(app)
  t.equal(sample(before, 'faultline_exits_total{reason="KVM_EXIT_MEMORY_FAULT"}'), 0, 'every reason is there from the start')
  t.equal(sample(before, 'faultline_decision_latency_seconds_count{source="rest"}'), 0)

  // A shared write to private memory, converted over REST: 4 KiB to shared.
  const rest = await createVm(app, { type: 'snp', program: [{ op: 'write', gpa: 0, private: false }, { op: 'hlt' }], autostart: true })
  const exit = await pendingExit(app, rest)
  const d = await app.inject({ method: 'POST', url: `/v1/vms/${rest}/exits/${exit}/decision`, headers: bearer(TOKENS.operatorA), payload: { action: 'convert' } })
  t.equal(d.statusCode, 200)
  // A private access to shared memory, converted by a rule: 4 KiB to private.
  await createVm(app, {
    type: 'snp',
    initial_attributes: 'shared',
    program: [{ op: 'read', gpa: PAGE, private: true }, { op: 'hlt' }],
    policy: { rules: [{ reason: 'KVM_EXIT_MEMORY_FAULT', action: 'convert' }] },
    autostart: true
  })
  // An I/O exit nobody answers: killed by the timeout.
  const slow = await createVm(app, { type: 'default', program: [{ op: 'out', port: 1, size: 1, value: 1 }], policy: { decision_timeout_ms: 1000, on_timeout: 'kill' }, autostart: true })
  await pendingExit(app, slow)
  clock.advance(1000)
  await settle()

  const body = await scrape(app)
  t.equal(sample(body, 'faultline_exits_total{reason="KVM_EXIT_MEMORY_FAULT"}'), 2)
  t.equal(sample(body, 'faultline_exits_total{reason="KVM_EXIT_IO"}'), 1)
  t.ok((sample(body, 'faultline_exits_total{reason="KVM_EXIT_HLT"}') ?? 0) >= 1)
  t.equal(sample(body, 'faultline_decisions_total{action="convert",source="rest"}'), 1)
  t.equal(sample(body, 'faultline_decisions_total{action="convert",source="rule"}'), 1)
  t.equal(sample(body, 'faultline_decisions_total{action="kill",source="timeout"}'), 1)
  t.equal(sample(body, 'faultline_decisions_total{action="resume",source="controller"}'), 0)
  t.equal(sample(body, 'faultline_decision_latency_seconds_count{source="rest"}'), 1)
  t.equal(sample(body, 'faultline_decision_latency_seconds_count{source="rule"}'), 1)
  t.equal(sample(body, 'faultline_decision_latency_seconds_bucket{source="timeout",le="+Inf"}'), 1)
  t.ok((sample(body, 'faultline_decision_latency_seconds_sum{source="rest"}') ?? 0) > 0, 'a REST decision takes some time')
  t.equal(sample(body, 'faultline_conversions_total{direction="to_shared"}'), 1)
  t.equal(sample(body, 'faultline_conversions_total{direction="to_private"}'), 1)
  t.equal(sample(body, 'faultline_converted_bytes_total{direction="to_shared"}'), PAGE)
  t.equal(sample(body, 'faultline_converted_bytes_total{direction="to_private"}'), PAGE)
  t.equal(sample(body, 'faultline_vms{state="killed",type="default"}'), 1)
  t.equal(sample(body, 'faultline_vms{state="running",type="snp"}'), 2)
  t.equal(sample(body, 'faultline_vms{state="running",type="tdx"}'), 0)
  t.equal(sample(body, 'faultline_pending_exits'), 2, 'the two HLT exits')
  t.equal(sample(body, 'faultline_http_requests_total{method="POST",route="/v1/vms",status_code="201"}'), 3)
  t.equal(sample(body, 'faultline_http_requests_total{method="POST",route="/v1/vms/:vm/exits/:exit/decision",status_code="200"}'), 1)
  t.ok((sample(body, 'faultline_http_request_duration_seconds_count{method="GET",route="/v1/vms/:vm/exits"}') ?? 0) >= 1)
  t.notOk(body.includes(rest) || body.includes(slow), 'no VM id in any label')
  t.ok(sample(body, 'faultline_process_cpu_seconds_total') !== undefined, 'process defaults')
  const elu = sample(body, 'faultline_event_loop_utilization') ?? -1
  t.ok(elu >= 0 && elu <= 1, 'event-loop utilization is a ratio')
  t.ok((sample(body, 'faultline_event_loop_lag_p99_seconds') ?? -1) >= 0)
  t.ok((sample(body, 'faultline_event_loop_lag_max_seconds') ?? -1) >= 0)
})

void t.test('unmatched URLs share one route label; a decision from a controller is counted as such', async t => {
  const app = await build(t)
  await app.inject({ url: '/v1/nothing/at-all', headers: bearer(TOKENS.admin) })
  await app.inject({ url: '/v1/nothing/else', headers: bearer(TOKENS.admin) })
  const url = await listen(app)
  const vm = await createVm(app, { type: 'default', program: [{ op: 'in', port: 2, size: 1 }, { op: 'hlt' }] })
  const ctl = await WsClient.open(url, TOKENS.operatorA)
  t.teardown(async () => { await ctl.close() })
  await ctl.request({ type: 'subscribe', vm, role: 'controller' })
  await app.inject({ method: 'POST', url: `/v1/vms/${vm}/actions`, headers: bearer(TOKENS.operatorA), payload: { action: 'start' } })
  const exit = await ctl.next((m: Msg) => m.type === 'exit')
  await ctl.request({ type: 'decision', vm, exit: exit.exit, action: 'resume', data: [7] })
  await ctl.next((m: Msg) => m.type === 'decided')
  const body = await scrape(app)
  t.equal(sample(body, 'faultline_http_requests_total{method="GET",route="unmatched",status_code="404"}'), 2)
  t.notOk(body.includes('nothing'), 'no URL in any label')
  t.equal(sample(body, 'faultline_decisions_total{action="resume",source="controller"}'), 1)
  t.equal(sample(body, 'faultline_decision_latency_seconds_count{source="controller"}'), 1)
  t.equal(sample(body, 'faultline_stream_sockets'), 1)
  t.equal(sample(body, 'faultline_stream_controllers'), 1)
  t.equal(sample(body, 'faultline_stream_slow_closed_total'), 0)
})

void t.test('each app has its own registry', async t => {
  const a = await build(t)
  const b = await build(t)
  t.not(a.metrics, b.metrics)
  await a.inject({ method: 'POST', url: '/v1/vms', headers: bearer(TOKENS.operatorA), payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 } } })
  t.equal(sample(await scrape(a), 'faultline_vms{state="created",type="default"}'), 1)
  t.equal(sample(await scrape(b), 'faultline_vms{state="created",type="default"}'), 0)
})

void t.test('the registry also exports as JSON, the decision latency included', async t => {
  const app = await build(t)
  const all = await app.metrics.getMetricsAsJSON()
  const latency = all.find(m => m.name === 'faultline_decision_latency_seconds')
  t.equal(latency?.values.filter(v => v.labels.le === '+Inf').length, 4, 'one +Inf bucket per source')
})

import t from 'tap'
import { build, bearer, TOKENS, settle } from '../helper.js'

const opA = bearer(TOKENS.operatorA)
const obsA = bearer(TOKENS.observerA)

async function running (app: Awaited<ReturnType<typeof build>>, program: object[], vcpus = 1): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: { type: 'tdx', vcpus, memory: { size_mib: 16 }, program, autostart: true } })
  if (r.statusCode !== 201) throw new Error(r.body)
  await settle()
  return r.json().id as string
}

void t.test('the exit journal lists exits as the stream sends them, with their decision', async t => {
  const app = await build(t)
  const id = await running(app, [{ op: 'in', port: 0x60, size: 1 }])
  const list = await app.inject({ url: `/v1/vms/${id}/exits`, headers: obsA })
  t.equal(list.statusCode, 200)
  t.match(list.json(), { items: [{ type: 'exit', vm: id, exit: 1, seq: 3, vcpu: 0, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 0, port: 0x60 }, decision: null }], next: null })

  const ok = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: opA, payload: { action: 'resume', data: [0x42] } })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { exit: 1, decision: { action: 'resume', by: 'rest', seq: 4, data: [0x42] } })
  const twice = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: opA, payload: { action: 'resume' } })
  t.equal(twice.statusCode, 409)
  t.equal(twice.json().code, 'FAULTLINE_EXIT_NOT_PENDING')
  t.equal((await app.inject({ url: `/v1/vms/${id}/exits?pending=true`, headers: opA })).json().items.length, 0)
  t.equal((await app.inject({ url: `/v1/vms/${id}/exits?since=3`, headers: opA })).json().items.length, 0)
  t.equal((await app.inject({ url: `/v1/vms/${id}/exits?limit=0`, headers: opA })).statusCode, 400)
})

void t.test('decisions over REST: refused, forbidden, malformed', async t => {
  const app = await build(t)
  const id = await running(app, [{ op: 'out', port: 1, size: 1, value: 1 }])
  const refused = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: opA, payload: { action: 'convert' } })
  t.equal(refused.statusCode, 422)
  t.equal(refused.json().code, 'FAULTLINE_INVALID_ACTION')
  t.equal((await app.inject({ url: `/v1/vms/${id}/exits?pending=true`, headers: opA })).json().items.length, 1, 'still pending')
  const obs = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: obsA, payload: { action: 'kill' } })
  t.equal(obs.statusCode, 403)
  t.equal(obs.json().code, 'FAULTLINE_FORBIDDEN')
  for (const payload of [{ action: 'maybe' }, { action: 'kill', type: 'decision' }, { action: 'resume', ret: 1.5 }, {}]) {
    const r = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: opA, payload })
    t.equal(r.statusCode, 400, JSON.stringify(payload))
  }
  t.equal((await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/0/decision`, headers: opA, payload: { action: 'kill' } })).statusCode, 400, 'exit ids start at 1')
  const kill = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: opA, payload: { action: 'kill' } })
  t.equal(kill.statusCode, 200)
  t.equal((await app.inject({ url: `/v1/vms/${id}`, headers: opA })).json().state, 'killed')
})

void t.test('vCPUs list their state and pending exit; interrupts are injected', async t => {
  const app = await build(t)
  const id = await running(app, [{ op: 'hlt' }], 2)
  const v = await app.inject({ url: `/v1/vms/${id}/vcpus`, headers: obsA })
  t.equal(v.statusCode, 200)
  t.match(v.json(), { items: [{ id: 0, state: 'exit_pending', pending_exit: 1 }, { id: 1, state: 'exit_pending', pending_exit: 2 }], next: null })
  const irq = await app.inject({ method: 'POST', url: `/v1/vms/${id}/vcpus/1/interrupt`, headers: opA })
  t.equal(irq.statusCode, 200)
  t.match(irq.json(), { id: 1 })
  const missing = await app.inject({ method: 'POST', url: `/v1/vms/${id}/vcpus/2/interrupt`, headers: opA })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'FAULTLINE_VCPU_NOT_FOUND')
  t.equal((await app.inject({ method: 'POST', url: `/v1/vms/${id}/vcpus/0/interrupt`, headers: obsA })).statusCode, 403)
})

void t.test('GET /v1/presets lists the built-in programs', async t => {
  const app = await build(t)
  const r = await app.inject({ url: '/v1/presets', headers: obsA })
  t.equal(r.statusCode, 200)
  t.ok(r.json().items.length > 0)
  t.match(r.json().items[0], { name: String, description: String, types: Array, memory_mib: Number, program: Array })
})

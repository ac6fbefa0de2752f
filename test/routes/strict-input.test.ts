// Integers in paths and query strings are exact: "3.7", "0.9", "false" or an empty segment
// is a 400 naming the field, never a different exit, vCPU or address.
import t from 'tap'
import { build, bearer, TOKENS, settle } from '../helper.js'

const opA = bearer(TOKENS.operatorA)

async function vmWithExits (app: Awaited<ReturnType<typeof build>>): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: { type: 'tdx', vcpus: 2, memory: { size_mib: 16 }, program: [{ op: 'hlt' }], autostart: true } })
  if (r.statusCode !== 201) throw new Error(r.body)
  await settle()
  return r.json().id as string
}

void t.test('path integers that are not exactly integers are refused', async t => {
  const app = await build(t)
  const id = await vmWithExits(app)
  for (const exit of ['3.7', '1.0', '1e0', '0x1', 'true', ' 1', '+1']) {
    const r = await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/${encodeURIComponent(exit)}/decision`, headers: opA, payload: { action: 'resume' } })
    t.equal(r.statusCode, 400, `exit ${JSON.stringify(exit)}`)
    t.equal(r.json().code, 'FAULTLINE_VALIDATION')
    t.match(r.json().message, /params\.exit/)
  }
  for (const vcpu of ['0.9', 'false', '', '-0.5']) {
    const r = await app.inject({ method: 'POST', url: `/v1/vms/${id}/vcpus/${vcpu}/interrupt`, headers: opA })
    t.equal(r.statusCode, 400, `vcpu ${JSON.stringify(vcpu)}`)
  }
  t.equal((await app.inject({ url: `/v1/vms/${id}/vcpus`, headers: opA })).json().items[0].counters.interrupts, 0, 'no interrupt reached vCPU 0')
  // The exact forms still work.
  t.equal((await app.inject({ method: 'POST', url: `/v1/vms/${id}/vcpus/1/interrupt`, headers: opA })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: `/v1/vms/${id}/exits/1/decision`, headers: opA, payload: { action: 'resume' } })).statusCode, 200)
})

void t.test('query integers and booleans are exact', async t => {
  const app = await build(t)
  const id = await vmWithExits(app)
  for (const q of ['gpa=1.5', 'gpa=', 'gpa=true', 'size=4096.0', 'gpa=1&gpa=2']) {
    const r = await app.inject({ url: `/v1/vms/${id}/memory/attributes?${q}`, headers: opA })
    t.equal(r.statusCode, 400, q)
    t.equal(r.json().code, 'FAULTLINE_VALIDATION')
  }
  for (const q of ['limit=true', 'limit=1.5', 'pending=1', 'pending=yes', 'since=-1']) {
    const r = await app.inject({ url: `/v1/vms/${id}/exits?${q}`, headers: opA })
    t.equal(r.statusCode, 400, q)
  }
  t.equal((await app.inject({ url: '/v1/vms?limit=true', headers: opA })).statusCode, 400)
  const ok = await app.inject({ url: `/v1/vms/${id}/exits?limit=1&pending=true`, headers: opA })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().items.length, 1)
  t.equal((await app.inject({ url: `/v1/vms/${id}/exits?pending=false`, headers: opA })).json().items.length, 0)
  t.equal((await app.inject({ url: `/v1/vms/${id}/memory/attributes?gpa=0&size=4096`, headers: opA })).statusCode, 200)
})

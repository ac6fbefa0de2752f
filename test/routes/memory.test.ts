import t from 'tap'
import { build, bearer, TOKENS } from '../helper.js'

const opA = bearer(TOKENS.operatorA)
const obsA = bearer(TOKENS.observerA)
const TIB = 2 ** 40
const GPA_SPACE = 2 ** 52

async function vm (app: Awaited<ReturnType<typeof build>>, over: Record<string, unknown> = {}): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: { type: 'sw_protected', vcpus: 1, memory: { slots: [{ slot: 0, gpa: 0, size: TIB, guest_memfd: true }] }, ...over } })
  if (r.statusCode !== 201) throw new Error(r.body)
  return r.json().id as string
}

void t.test('a 1 TiB guest\'s attributes are extents, never pages', async t => {
  const app = await build(t)
  const id = await vm(app)
  const whole = await app.inject({ url: `/v1/vms/${id}/memory/attributes`, headers: obsA })
  t.equal(whole.statusCode, 200)
  t.same(whole.json(), { extents: [{ gpa: 0, size: TIB, attributes: 8 }, { gpa: TIB, size: GPA_SPACE - TIB, attributes: 0 }], next: null }, 'one page: next is null')

  const put = await app.inject({ method: 'PUT', url: `/v1/vms/${id}/memory/attributes`, headers: opA, payload: { address: 2 ** 30, size: 2 ** 21, attributes: 0, flags: 0 } })
  t.equal(put.statusCode, 200)
  t.same(put.json(), { extents: [{ gpa: 2 ** 30, size: 2 ** 21, attributes: 0 }] })
  const range = await app.inject({ url: `/v1/vms/${id}/memory/attributes?gpa=0&size=${TIB}`, headers: opA })
  t.same(range.json().extents, [
    { gpa: 0, size: 2 ** 30, attributes: 8 },
    { gpa: 2 ** 30, size: 2 ** 21, attributes: 0 },
    { gpa: 2 ** 30 + 2 ** 21, size: TIB - 2 ** 30 - 2 ** 21, attributes: 8 }
  ])
  // Converting the whole TiB to shared and back is two extents of work, not 2^28 pages.
  for (const attributes of [0, 8]) {
    const r = await app.inject({ method: 'PUT', url: `/v1/vms/${id}/memory/attributes`, headers: opA, payload: { address: 0, size: TIB, attributes, flags: 0 } })
    t.same(r.json(), { extents: [{ gpa: 0, size: TIB, attributes }] })
  }
})

void t.test('PUT attributes mirrors KVM_SET_MEMORY_ATTRIBUTES: EINVAL is 400 with errno', async t => {
  const app = await build(t)
  const id = await vm(app)
  const dflt = (await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 } } })).json().id as string
  const cases: [string, string, object][] = [
    ['flags != 0', id, { address: 0, size: 4096, attributes: 8, flags: 1 }],
    ['size 0', id, { address: 0, size: 0, attributes: 8, flags: 0 }],
    ['unaligned address', id, { address: 1, size: 4096, attributes: 8, flags: 0 }],
    ['unaligned size', id, { address: 0, size: 100, attributes: 8, flags: 0 }],
    ['unsupported attribute bit', id, { address: 0, size: 4096, attributes: 1, flags: 0 }],
    ['overflow', id, { address: Number.MAX_SAFE_INTEGER - 4095, size: 8192, attributes: 0, flags: 0 }],
    ['PRIVATE on a default VM', dflt, { address: 0, size: 4096, attributes: 8, flags: 0 }]
  ]
  for (const [what, vmId, payload] of cases) {
    const r = await app.inject({ method: 'PUT', url: `/v1/vms/${vmId}/memory/attributes`, headers: opA, payload })
    t.equal(r.statusCode, 400, what)
    t.match(r.json(), { code: 'FAULTLINE_INVALID_ARGUMENT', errno: 'EINVAL' }, what)
  }
  const unknown = await app.inject({ method: 'PUT', url: `/v1/vms/${id}/memory/attributes`, headers: opA, payload: { address: 0, size: 4096, attributes: 8 } })
  t.equal(unknown.json().code, 'FAULTLINE_VALIDATION', 'flags is required')
  const negative = await app.inject({ method: 'PUT', url: `/v1/vms/${id}/memory/attributes`, headers: opA, payload: { address: -4096, size: 4096, attributes: 8, flags: 0 } })
  t.equal(negative.json().code, 'FAULTLINE_VALIDATION')
  const obs = await app.inject({ method: 'PUT', url: `/v1/vms/${id}/memory/attributes`, headers: obsA, payload: { address: 0, size: 4096, attributes: 0, flags: 0 } })
  t.equal(obs.statusCode, 403)
  const q = await app.inject({ url: `/v1/vms/${id}/memory/attributes?gpa=x`, headers: opA })
  t.equal(q.statusCode, 400)
})

void t.test('poison marks a guest_memfd page and the backing map shows it', async t => {
  const app = await build(t)
  const id = await vm(app, { memory: { size_mib: 4 }, type: 'snp' })
  const p = await app.inject({ method: 'POST', url: `/v1/vms/${id}/memory/poison`, headers: opA, payload: { gpa: 8192 + 12 } })
  t.equal(p.statusCode, 200)
  t.same(p.json(), { gpa: 8204, poisoned: true })
  const b = await app.inject({ url: `/v1/vms/${id}/memory/backing?gpa=0&size=16384`, headers: obsA })
  t.equal(b.statusCode, 200)
  t.match(b.json().extents, [{ gpa: 0, poisoned: false }, { gpa: 8192, size: 4096, poisoned: true }, { gpa: 12288, poisoned: false }])
  t.equal((await app.inject({ method: 'POST', url: `/v1/vms/${id}/memory/poison`, headers: obsA, payload: { gpa: 0 } })).statusCode, 403)
  const outside = await app.inject({ method: 'POST', url: `/v1/vms/${id}/memory/poison`, headers: opA, payload: { gpa: 2 ** 40 } })
  t.equal(outside.statusCode, 400)
  t.type(outside.json().errno, 'string')
  t.equal((await app.inject({ method: 'POST', url: `/v1/vms/${id}/memory/poison`, headers: opA, payload: { gpa: 0, x: 1 } })).statusCode, 400)
})

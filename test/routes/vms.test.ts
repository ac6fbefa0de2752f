import t from 'tap'
import { build, bearer, TOKENS, settle } from '../helper.js'

const opA = bearer(TOKENS.operatorA)
const obsA = bearer(TOKENS.observerA)
const opB = bearer(TOKENS.operatorB)
const admin = bearer(TOKENS.admin)
const body = (over: Record<string, unknown> = {}) => ({ type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [{ op: 'hlt' }], ...over })

void t.test('POST /v1/vms creates a VM with the contract\'s defaults', async t => {
  const app = await build(t)
  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body({ name: 'tdx-a' }) })
  t.equal(r.statusCode, 201)
  t.match(r.json(), {
    id: /^vm_/, name: 'tdx-a', type: 'tdx', state: 'created', vcpus: 1, gpaw: 48, seed: 1, initial_attributes: 'private',
    memslots: [{ slot: 0, gpa: 0, size: 16 * 2 ** 20, guest_memfd: true }],
    policy: { decision_timeout_ms: null, on_timeout: 'kill', rules: [] }, seq: 1
  })
  const d = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: { type: 'default', vcpus: 2, memory: { size_mib: 1 } } })
  t.equal(d.statusCode, 201)
  t.match(d.json(), { initial_attributes: 'shared', memslots: [{ guest_memfd: false }], program_length: 0 })
  t.notOk('gpaw' in d.json(), 'gpaw only on tdx')
})

void t.test('a preset gives the program and memory', async t => {
  const app = await build(t)
  const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: { type: 'tdx', vcpus: 1, preset: 'tdx-boot' } })
  t.equal(r.statusCode, 201)
  t.match(r.json(), { preset: 'tdx-boot', memslots: [{ size: 2048 * 2 ** 20 }] })
  t.ok(r.json().program_length > 0)
})

void t.test('each validation rule of the VM body gets a 4xx naming the problem', async t => {
  const app = await build(t, { limits: { maxProgramOps: 5, maxMemslots: 2, maxVcpus: 4 } })
  const cases: [string, unknown, number, string, RegExp][] = [
    ['unknown field', body({ colour: 'red' }), 400, 'FAULTLINE_VALIDATION', /unknown field "colour"/],
    ['unknown nested field', body({ policy: { rules: [], x: 1 } }), 400, 'FAULTLINE_VALIDATION', /body\.policy has unknown field "x"/],
    ['wrong type', body({ vcpus: '2' }), 400, 'FAULTLINE_VALIDATION', /body\.vcpus/],
    ['vcpus 0', body({ vcpus: 0 }), 400, 'FAULTLINE_VALIDATION', /vcpus/],
    ['vcpus 257', body({ vcpus: 257 }), 400, 'FAULTLINE_VALIDATION', /vcpus/],
    ['vcpus over the server limit', body({ vcpus: 5 }), 400, 'FAULTLINE_LIMIT_EXCEEDED', /limit of 4/],
    ['bad type', body({ type: 'sev' }), 400, 'FAULTLINE_VALIDATION', /body\.type/],
    ['missing type', { vcpus: 1, memory: { size_mib: 1 } }, 400, 'FAULTLINE_VALIDATION', /type/],
    ['gpaw 50', body({ gpaw: 50 }), 400, 'FAULTLINE_VALIDATION', /gpaw/],
    ['gpaw off tdx', body({ type: 'snp', gpaw: 52 }), 400, 'FAULTLINE_INVALID_CONFIG', /tdx/],
    ['program and preset', body({ preset: 'tdx-boot' }), 400, 'FAULTLINE_VALIDATION', /not both/],
    ['unknown preset', { type: 'tdx', vcpus: 1, preset: 'nope' }, 400, 'FAULTLINE_UNKNOWN_PRESET', /nope/],
    ['preset for another type', { type: 'default', vcpus: 1, preset: 'tdx-boot' }, 400, 'FAULTLINE_INVALID_CONFIG', /tdx-boot/],
    ['no memory', { type: 'tdx', vcpus: 1 }, 400, 'FAULTLINE_VALIDATION', /memory is required/],
    ['memory both ways', body({ memory: { size_mib: 1, slots: [] } }), 400, 'FAULTLINE_VALIDATION', /memory/],
    ['too many memslots', body({ memory: { slots: [0, 1, 2].map(i => ({ slot: i, gpa: i * 4096, size: 4096, guest_memfd: true })) } }), 400, 'FAULTLINE_LIMIT_EXCEEDED', /limit of 2/],
    ['overlapping memslots', body({ memory: { slots: [{ slot: 0, gpa: 0, size: 8192, guest_memfd: true }, { slot: 1, gpa: 4096, size: 4096, guest_memfd: true }] } }), 400, 'FAULTLINE_INVALID_CONFIG', /./],
    ['unaligned memslot', body({ memory: { slots: [{ slot: 0, gpa: 1, size: 4096, guest_memfd: true }] } }), 400, 'FAULTLINE_INVALID_CONFIG', /./],
    ['gpa past 2^52', body({ memory: { slots: [{ slot: 0, gpa: 2 ** 52, size: 4096, guest_memfd: true }] } }), 400, 'FAULTLINE_VALIDATION', /gpa/],
    ['over-long program', body({ program: Array.from({ length: 6 }, () => ({ op: 'hlt' })) }), 400, 'FAULTLINE_INVALID_PROGRAM', /./],
    ['bad instruction', body({ program: [{ op: 'hlt' }, { op: 'read', gpa: 'x' }] }), 400, 'FAULTLINE_INVALID_PROGRAM', /program\[1\]/],
    ['unknown op', body({ program: [{ op: 'jump' }] }), 400, 'FAULTLINE_VALIDATION', /op/],
    ['bad rule reason', body({ policy: { rules: [{ reason: 'KVM_EXIT_NOPE', action: 'resume' }] } }), 400, 'FAULTLINE_VALIDATION', /reason/],
    ['negative timeout', body({ policy: { decision_timeout_ms: -1 } }), 400, 'FAULTLINE_VALIDATION', /decision_timeout_ms/],
    ['bad name', body({ name: 'has space' }), 400, 'FAULTLINE_VALIDATION', /name/],
    ['seed not integer', body({ seed: 1.5 }), 400, 'FAULTLINE_VALIDATION', /seed/]
  ]
  for (const [what, payload, status, code, message] of cases) {
    const r = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: payload as object })
    t.equal(r.statusCode, status, `${what}: status`)
    t.match(r.json(), { statusCode: status, code, error: /./, message }, `${what}: ${r.json().message as string}`)
  }
  const prog = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body({ program: [{ op: 'hlt' }, { op: 'read', gpa: 'x' }] }) })
  t.match(prog.json(), { path: /program\[1\]/ }, 'a program error names its path')
})

void t.test('bad JSON, wrong media type and oversized bodies are refused', async t => {
  const app = await build(t, { settings: { bodyLimit: 2048 } })
  const bad = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': 'application/json' }, payload: '{"type":' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'FAULTLINE_BAD_JSON')
  const big = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body({ program: Array.from({ length: 200 }, () => ({ op: 'hlt' })) }) })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'FAULTLINE_PAYLOAD_TOO_LARGE')
  const text = await app.inject({ method: 'POST', url: '/v1/vms', headers: { ...opA, 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(text.statusCode, 415)
  t.equal(text.json().code, 'FAULTLINE_UNSUPPORTED_MEDIA_TYPE')
})

void t.test('names are unique per tenant and VMs per tenant are bounded', async t => {
  const app = await build(t, { limits: { maxVmsPerTenant: 2 } })
  t.equal((await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body({ name: 'x' }) })).statusCode, 201)
  const dup = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body({ name: 'x' }) })
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().code, 'FAULTLINE_NAME_TAKEN')
  t.equal((await app.inject({ method: 'POST', url: '/v1/vms', headers: opB, payload: body({ name: 'x' }) })).statusCode, 201, 'another tenant may reuse it')
  t.equal((await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body() })).statusCode, 201)
  const third = await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body() })
  t.equal(third.statusCode, 409)
  t.match(third.json(), { code: 'FAULTLINE_TOO_MANY_VMS', message: /limit 2/ })
})

void t.test('GET /v1/vms lists the caller\'s VMs in pages; admin sees every tenant', async t => {
  const app = await build(t)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body() })).json().id as string)
  await app.inject({ method: 'POST', url: '/v1/vms', headers: opB, payload: body() })
  const p1 = (await app.inject({ url: '/v1/vms?limit=2', headers: opA })).json()
  t.same(p1.items.map((v: { id: string }) => v.id), ids.slice(0, 2))
  const p2 = (await app.inject({ url: `/v1/vms?limit=2&cursor=${p1.next as string}`, headers: obsA })).json()
  t.same(p2.items.map((v: { id: string }) => v.id), ids.slice(2))
  t.equal(p2.next, null)
  t.equal((await app.inject({ url: '/v1/vms', headers: admin })).json().items.length, 4)
  t.equal((await app.inject({ url: '/v1/vms', headers: opB })).json().items.length, 1)
  const bad = await app.inject({ url: '/v1/vms?limit=0', headers: opA })
  t.equal(bad.statusCode, 400)
  t.equal((await app.inject({ url: '/v1/vms?cursor=abc', headers: opA })).statusCode, 400)
  t.equal((await app.inject({ url: '/v1/vms?foo=1', headers: opA })).statusCode, 400, 'unknown query field')
})

void t.test('GET, actions and DELETE of one VM', async t => {
  const app = await build(t)
  const id = (await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body() })).json().id as string
  const got = await app.inject({ url: `/v1/vms/${id}`, headers: obsA })
  t.equal(got.statusCode, 200)
  t.match(got.json(), { id, counters: { exits: 0, pending: 0, decisions: 0, accesses: 0 }, created_at: /T/ })

  const start = await app.inject({ method: 'POST', url: `/v1/vms/${id}/actions`, headers: opA, payload: { action: 'start' } })
  t.equal(start.statusCode, 200)
  t.equal(start.json().state, 'running')
  const again = await app.inject({ method: 'POST', url: `/v1/vms/${id}/actions`, headers: opA, payload: { action: 'start' } })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { code: 'FAULTLINE_INVALID_TRANSITION', message: /running/ })
  const bogus = await app.inject({ method: 'POST', url: `/v1/vms/${id}/actions`, headers: opA, payload: { action: 'explode' } })
  t.equal(bogus.statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: `/v1/vms/${id}/actions`, headers: obsA, payload: { action: 'pause' } })).json().code, 'FAULTLINE_FORBIDDEN')
  await settle()
  t.equal((await app.inject({ url: `/v1/vms/${id}`, headers: opA })).json().counters.pending, 1)

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/vms/${id}`, headers: obsA })).statusCode, 403)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/vms/${id}`, headers: opB })).statusCode, 404)
  const del = await app.inject({ method: 'DELETE', url: `/v1/vms/${id}`, headers: opA })
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  const gone = await app.inject({ url: `/v1/vms/${id}`, headers: opA })
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().code, 'FAULTLINE_VM_NOT_FOUND')
})

void t.test('another tenant\'s VM is 404 on every route, never 403', async t => {
  const app = await build(t)
  const id = (await app.inject({ method: 'POST', url: '/v1/vms', headers: opA, payload: body() })).json().id as string
  const routes: [string, string, object?][] = [
    ['GET', `/v1/vms/${id}`], ['DELETE', `/v1/vms/${id}`], ['POST', `/v1/vms/${id}/actions`, { action: 'start' }],
    ['GET', `/v1/vms/${id}/memory/attributes`], ['PUT', `/v1/vms/${id}/memory/attributes`, { address: 0, size: 4096, attributes: 0, flags: 0 }],
    ['POST', `/v1/vms/${id}/memory/poison`, { gpa: 0 }], ['GET', `/v1/vms/${id}/memory/backing`],
    ['GET', `/v1/vms/${id}/vcpus`], ['POST', `/v1/vms/${id}/vcpus/0/interrupt`],
    ['GET', `/v1/vms/${id}/exits`], ['POST', `/v1/vms/${id}/exits/1/decision`, { action: 'kill' }]
  ]
  for (const token of [TOKENS.operatorB, TOKENS.observerB]) {
    for (const [method, url, payload] of routes) {
      const r = await app.inject({ method: method as 'GET', url, headers: bearer(token), ...(payload !== undefined ? { payload } : {}) })
      t.equal(r.statusCode, 404, `${method} ${url}`)
      t.equal(r.json().code, 'FAULTLINE_VM_NOT_FOUND')
    }
  }
  t.equal((await app.inject({ url: `/v1/vms/${id}`, headers: opA })).json().state, 'created', 'untouched')
})

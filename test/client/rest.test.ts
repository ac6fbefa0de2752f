// FaultlineClient's REST calls against a fake server: each method's route, query and body,
// paging, and the contract's error body mapped to FaultlineApiError.
import t from 'tap'
import { FaultlineClient, FaultlineApiError } from '../../src/client/index.js'
import { startFakeServer } from './fake-server.js'
import type { RecordedRequest } from './fake-server.js'

const vm = { id: 'vm-1', name: 'a', type: 'tdx', state: 'created', vcpus: 1, memslots: [], policy: {}, counters: {} }

/** Answers by "METHOD path" (query included); anything else is a 404 in the contract's shape. */
function router (routes: Record<string, { status: number, body?: unknown, raw?: string }>) {
  return (req: RecordedRequest) => routes[`${req.method} ${req.url}`] ??
    { status: 404, body: { statusCode: 404, code: 'FAULTLINE_VM_NOT_FOUND', error: 'Not Found', message: 'no such VM' } }
}

void t.test('every route is called with its method, path, query and body, with the bearer token', async (t) => {
  const exit = { vm: 'vm-1', exit: 3, seq: 9, vcpu: 0, reason: 'KVM_EXIT_HLT', exit_reason: 5, run: { ret: 0 }, decision: null }
  const fake = await startFakeServer({
    rest: router({
      'POST /v1/vms': { status: 201, body: vm },
      'GET /v1/vms?limit=2': { status: 200, body: { items: [vm], next: null } },
      'GET /v1/vms/vm-1': { status: 200, body: vm },
      'DELETE /v1/vms/vm-1': { status: 204 },
      'POST /v1/vms/vm-1/actions': { status: 200, body: { ...vm, state: 'running' } },
      'GET /v1/vms/vm-1/memory/attributes?gpa=0&size=8192': { status: 200, body: { extents: [{ gpa: 0, size: 8192, attributes: 8 }], next: null } },
      'PUT /v1/vms/vm-1/memory/attributes': { status: 200, body: { extents: [{ gpa: 0, size: 8192, attributes: 0 }] } },
      'POST /v1/vms/vm-1/memory/poison': { status: 200, body: { gpa: 4096, poisoned: true } },
      'GET /v1/vms/vm-1/memory/backing': { status: 200, body: { extents: [{ gpa: 0, size: 4096, attributes: 8, shared_populated: false, private_populated: true, poisoned: false }], next: null } },
      'GET /v1/vms/vm-1/vcpus': { status: 200, body: [{ id: 0, state: 'runnable', pending_exit: null, counters: {} }] },
      'POST /v1/vms/vm-1/vcpus/1/interrupt': { status: 200, body: { id: 1, state: 'runnable', pending_exit: null, counters: { interrupts: 1 } } },
      'GET /v1/vms/vm-1/exits?since=4&limit=10&pending=true': { status: 200, body: { items: [exit], next: null } },
      'POST /v1/vms/vm-1/exits/3/decision': { status: 200, body: { ...exit, decision: { action: 'resume', by: 'rest' } } },
      'GET /v1/presets': { status: 200, body: { items: [{ name: 'tdx-boot' }], next: null } }
    })
  })
  t.teardown(() => fake.close())
  const client = new FaultlineClient({ url: fake.url, token: 'tok' })

  t.same(await client.createVm({ type: 'tdx', vcpus: 1, memory: { size_mib: 64 }, preset: 'tdx-boot' }), vm)
  t.same((await client.listVms({ limit: 2 })).items, [vm])
  t.same(await client.getVm('vm-1'), vm)
  t.equal(await client.deleteVm('vm-1'), undefined)
  t.equal((await client.action('vm-1', 'start')).state, 'running')
  t.same(await client.memoryAttributes('vm-1', 0, 8192), [{ gpa: 0, size: 8192, attributes: 8 }])
  t.same(await client.setMemoryAttributes('vm-1', { address: 0, size: 4096, attributes: 0, flags: 0 }), [{ gpa: 0, size: 8192, attributes: 0 }])
  t.same(await client.poison('vm-1', 4096), { gpa: 4096, poisoned: true })
  t.match(await client.backing('vm-1'), [{ private_populated: true }])
  t.match(await client.vcpus('vm-1'), [{ id: 0 }])
  t.match(await client.injectInterrupt('vm-1', 1), { id: 1, counters: { interrupts: 1 } })
  t.match((await client.exits('vm-1', { since: 4, limit: 10, pending: true })).items, [{ exit: 3 }])
  t.match(await client.decide('vm-1', 3, 'resume', { ret: 0 }), { decision: { action: 'resume', by: 'rest' } })
  t.same(await client.presets(), [{ name: 'tdx-boot' }])

  const byRoute = (m: string, u: string) => fake.requests.find((r) => r.method === m && r.url === u)
  t.same(byRoute('POST', '/v1/vms')?.body, { type: 'tdx', vcpus: 1, memory: { size_mib: 64 }, preset: 'tdx-boot' })
  t.same(byRoute('POST', '/v1/vms/vm-1/actions')?.body, { action: 'start' })
  t.same(byRoute('PUT', '/v1/vms/vm-1/memory/attributes')?.body, { address: 0, size: 4096, attributes: 0, flags: 0 })
  t.same(byRoute('POST', '/v1/vms/vm-1/memory/poison')?.body, { gpa: 4096 })
  t.same(byRoute('POST', '/v1/vms/vm-1/exits/3/decision')?.body, { action: 'resume', ret: 0 })
  t.equal(byRoute('GET', '/v1/vms/vm-1')?.headers.authorization, 'Bearer tok')
  t.equal(byRoute('GET', '/v1/vms/vm-1')?.headers['content-type'], undefined, 'no body, no content-type')
  t.equal(byRoute('POST', '/v1/vms/vm-1/vcpus/1/interrupt')?.body, undefined, 'an action with no body sends none')
})

void t.test('paging follows next until it is null', async (t) => {
  const fake = await startFakeServer({
    rest: router({
      'GET /v1/vms': { status: 200, body: { items: [{ ...vm, id: 'a' }], next: 'p2' } },
      'GET /v1/vms?cursor=p2': { status: 200, body: { items: [{ ...vm, id: 'b' }, { ...vm, id: 'c' }], next: 'p3' } },
      'GET /v1/vms?cursor=p3': { status: 200, body: { items: [], next: null } },
      'GET /v1/vms/x/exits': { status: 200, body: { items: [{ exit: 1 }], next: '7' } },
      'GET /v1/vms/x/exits?since=7': { status: 200, body: { items: [{ exit: 2 }], next: null } },
      'GET /v1/vms/x/memory/attributes?limit=1': { status: 200, body: { extents: [{ gpa: 0, size: 4096, attributes: 8 }], next: '4096' } },
      'GET /v1/vms/x/memory/attributes?limit=1&cursor=4096': { status: 200, body: { extents: [{ gpa: 4096, size: 4096, attributes: 0 }], next: null } },
      'GET /v1/vms/x/memory/backing?gpa=0&size=8192': { status: 200, body: { extents: [{ gpa: 0 }], next: '4096' } },
      'GET /v1/vms/x/memory/backing?gpa=0&size=8192&cursor=4096': { status: 200, body: { extents: [{ gpa: 4096 }], next: null } }
    })
  })
  t.teardown(() => fake.close())
  const client = new FaultlineClient({ url: fake.url })
  const ids: string[] = []
  for await (const v of client.allVms()) ids.push(v.id)
  t.same(ids, ['a', 'b', 'c'])
  let pages = 0
  for await (const page of client.vmPages()) { pages++; t.ok(Array.isArray(page.items)) }
  t.equal(pages, 3)
  const exits: number[] = []
  for await (const page of client.exitPages('x')) exits.push(...page.items.map((e) => e.exit))
  t.same(exits, [1, 2], 'an exits page\'s next is the since of the next page')
  const pagesSeen: number[] = []
  for await (const page of client.memoryAttributePages('x', { limit: 1 })) pagesSeen.push(page.extents.length)
  t.same(pagesSeen, [1, 1])
  t.same((await client.backing('x', 0, 8192)).map((e) => e.gpa), [0, 4096], 'backing() follows every page')
})

void t.test('a contract error body becomes FaultlineApiError with statusCode, code, message and errno', async (t) => {
  const fake = await startFakeServer({
    rest: router({
      'PUT /v1/vms/vm-1/memory/attributes': {
        status: 400,
        body: { statusCode: 400, code: 'FAULTLINE_INVALID_ARGUMENT', error: 'Bad Request', message: 'size is not page-aligned', errno: 'EINVAL' }
      },
      'POST /v1/vms/vm-1/actions': {
        status: 409,
        body: { statusCode: 409, code: 'FAULTLINE_INVALID_TRANSITION', error: 'Conflict', message: 'a stopped VM cannot pause' }
      },
      'GET /v1/presets': { status: 502, raw: 'bad gateway' },
      'GET /v1/vms/vm-1/vcpus': { status: 500, raw: '' }
    })
  })
  t.teardown(() => fake.close())
  const client = new FaultlineClient({ url: fake.url })

  const einval = await client.setMemoryAttributes('vm-1', { address: 1, size: 4096, attributes: 8, flags: 0 }).catch((e: unknown) => e)
  t.ok(einval instanceof FaultlineApiError)
  t.match(einval, { statusCode: 400, code: 'FAULTLINE_INVALID_ARGUMENT', message: 'size is not page-aligned', errno: 'EINVAL', error: 'Bad Request' })
  await t.rejects(client.action('vm-1', 'pause'), { statusCode: 409, code: 'FAULTLINE_INVALID_TRANSITION', errno: undefined })
  await t.rejects(client.getVm('nope'), { statusCode: 404, code: 'FAULTLINE_VM_NOT_FOUND' })
  // A body that is not the contract's (a proxy's page) still gives a usable error.
  await t.rejects(client.presets(), { statusCode: 502, code: 'HTTP_502', message: 'bad gateway' })
  await t.rejects(client.vcpus('vm-1'), { statusCode: 500, code: 'HTTP_500' })
})

void t.test('path segments are encoded, and the stream inherits url and token', async (t) => {
  const fake = await startFakeServer({ token: 'tok', rest: router({ 'GET /v1/vms/a%2Fb%3Fc': { status: 200, body: vm } }) })
  t.teardown(() => fake.close())
  const client = new FaultlineClient({ url: fake.url + '/', token: 'tok' })
  t.same(await client.getVm('a/b?c'), vm)
  const stream = client.stream({ reconnect: false })
  t.teardown(() => stream.close())
  t.match(await stream.ready(), { type: 'hello' })
  t.equal((await fake.socket(0)).headers.authorization, 'Bearer tok')
})

void t.test('a client with no options talks to the default URL', async (t) => {
  const client = new FaultlineClient()
  t.equal(client.url, 'http://127.0.0.1:8080')
})

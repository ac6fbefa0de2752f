// The VM list's cursor is opaque: it does not carry the server-wide creation counter (which
// would tell a tenant how many VMs other tenants made), it only works for the tenant it was
// given to, and it stays stable when VMs are deleted.
import t from 'tap'
import { bearer, build, TOKENS } from '../helper.js'

const opA = bearer(TOKENS.operatorA)
const opB = bearer(TOKENS.operatorB)
const vmBody = { type: 'default', vcpus: 1, memory: { size_mib: 1 } }
type App = Awaited<ReturnType<typeof build>>

async function create (app: App, headers: { authorization: string }, n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push((await app.inject({ method: 'POST', url: '/v1/vms', headers, payload: vmBody })).json().id as string)
  return ids
}

async function firstCursor (app: App): Promise<string> {
  const p = (await app.inject({ url: '/v1/vms?limit=1', headers: opA })).json()
  return p.next as string
}

void t.test('the cursor does not tell how many VMs other tenants made', async t => {
  const quiet = await build(t)
  await create(quiet, opA, 2)
  const busy = await build(t)
  await create(busy, opB, 37)
  await create(busy, opA, 2)
  const a = await firstCursor(quiet)
  const b = await firstCursor(busy)
  for (const c of [a, b]) {
    t.match(c, /^[A-Za-z0-9_-]{22}$/, 'one opaque shape whatever the count')
    t.notMatch(c, /^\d+$/, 'not a number')
  }
  t.equal(a.length, b.length)
})

void t.test('a cursor is refused for another tenant and when altered', async t => {
  const app = await build(t)
  await create(app, opA, 2)
  await create(app, opB, 2)
  const fromB = (await app.inject({ url: '/v1/vms?limit=1', headers: opB })).json().next as string
  const r = await app.inject({ url: `/v1/vms?cursor=${fromB}`, headers: opA })
  t.equal(r.statusCode, 400)
  t.equal(r.json().code, 'FAULTLINE_VALIDATION')
  t.match(r.json().message, /cursor/)
  const mine = await firstCursor(app)
  const altered = (mine[0] === 'A' ? 'B' : 'A') + mine.slice(1)
  t.equal((await app.inject({ url: `/v1/vms?cursor=${altered}`, headers: opA })).statusCode, 400)
  t.equal((await app.inject({ url: '/v1/vms?cursor=1', headers: opA })).statusCode, 400, 'a number is not a cursor')
  t.equal((await app.inject({ url: `/v1/vms?cursor=${mine}`, headers: opA })).statusCode, 200)
})

void t.test('a cursor stays good when the VM it points after is deleted', async t => {
  const app = await build(t)
  const ids = await create(app, opA, 3)
  const p1 = (await app.inject({ url: '/v1/vms?limit=2', headers: opA })).json()
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/vms/${ids[1] as string}`, headers: opA })).statusCode, 204)
  const p2 = (await app.inject({ url: `/v1/vms?limit=2&cursor=${p1.next as string}`, headers: opA })).json()
  t.same(p2.items.map((v: { id: string }) => v.id), [ids[2]])
  t.equal(p2.next, null)
})

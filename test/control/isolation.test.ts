// Isolation under hostile load, inside control/: no VM starves, a tenant with many busy VMs
// gets no more CPU than a tenant with one, and a VM that grows its memory map past the cap
// is paused (never the server); the server-wide VM cap holds across tenants.
import t from 'tap'
import { Control } from '../../src/control/index.js'
import type { CreateVmInput } from '../../src/control/index.js'
import { settle } from '../helper.js'
import { admin, opA, opB, vmBody } from './fixtures.js'

const SPIN = [{ op: 'repeat', forever: true, body: [{ op: 'write', gpa: 0, private: true }] }]
const OUT_FOREVER = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 0x80, size: 1, value: 1 }] }]
const RESUME_IO: CreateVmInput['policy'] = { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }] }

/** Waits (in real time, bounded) until `done` holds; false if it never did. */
async function until (done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!done()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return true
}

const accesses = (c: Control, id: string): number => c.vcpus(admin, id).reduce((n, v) => n + v.counters.accesses, 0)

void t.test('a VM started after 32 always-runnable VMs of another tenant still makes progress', async t => {
  const c = new Control()
  t.teardown(() => { c.close() })
  for (let i = 0; i < 32; i++) c.createVm(opA, vmBody({ program: SPIN, autostart: true }))
  await settle()
  const late = c.createVm(opB, vmBody({ program: OUT_FOREVER, policy: RESUME_IO, autostart: true })).id
  t.ok(await until(() => c.getVm(opB, late).counters.exits >= 50, 10_000), `the late VM has ${c.getVm(opB, late).counters.exits} exits`)
})

void t.test('a tenant with 40 busy VMs gets no more CPU than a tenant with one', async t => {
  const c = new Control()
  t.teardown(() => { c.close() })
  const many: string[] = []
  for (let i = 0; i < 40; i++) many.push(c.createVm(opA, vmBody({ program: SPIN, autostart: true })).id)
  const one = c.createVm(opB, vmBody({ program: SPIN, autostart: true })).id
  const sumMany = (): number => many.reduce((n, id) => n + accesses(c, id), 0)
  await until(() => sumMany() + accesses(c, one) > 2_000_000, 5_000)
  c.close()
  const a = sumMany()
  const b = accesses(c, one)
  // Fair share is one half each; round-robin over VMs would give the single VM 1/41.
  t.ok(b > 0.4 * (a + b), `tenant b's one VM did ${b} accesses, tenant a's 40 VMs ${a}`)
  t.ok(a > 0.4 * (a + b), 'and tenant a still gets its half')
})

void t.test('the VMs of one tenant share its turn round-robin', async t => {
  const c = new Control()
  t.teardown(() => { c.close() })
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push(c.createVm(opA, vmBody({ program: SPIN, autostart: true })).id)
  await until(() => ids.every(id => accesses(c, id) > 50_000), 5_000)
  c.close()
  const counts = ids.map(id => accesses(c, id))
  const min = Math.min(...counts)
  const max = Math.max(...counts)
  t.ok(min > 0.7 * max, `accesses per VM: ${counts.join(', ')}`)
})

void t.test('a VM whose memory map passes FAULTLINE_MAX_EXTENTS_PER_VM is paused with reason limit:extents', async t => {
  const c = new Control({ limits: { maxExtentsPerVm: 500 } })
  t.teardown(() => { c.close() })
  const random = [{ op: 'random', count: 1_000_000, gpa: 0, size: 2 ** 30, private_ratio: 0, write_ratio: 1, map_ratio: 0 }]
  const hostile = c.createVm(opA, vmBody({ type: 'default', memory: { size_mib: 1024 }, program: random, autostart: true })).id
  const other = c.createVm(opB, vmBody({ program: OUT_FOREVER, policy: RESUME_IO, autostart: true })).id
  t.ok(await until(() => c.getVm(opA, hostile).state !== 'running', 10_000))
  t.match(c.getVm(opA, hostile), { state: 'paused', state_reason: 'limit:extents' })
  const before = c.getVm(opB, other).counters.exits
  t.ok(await until(() => c.getVm(opB, other).counters.exits > before + 10, 5_000), 'the other tenant\'s VM runs on')
  const all = c.backing(opA, hostile, { limit: 10_000 })
  // Near the cap slices shrink to 16 work units, each adding at most 2 extents; the backing's
  // answer has at most one gap beside each stored extent.
  t.ok(all.extents.length <= 2 * (500 + 32) + 1, `${all.extents.length} backing extents`)
  // Resumed, it runs one slice and is paused again: the cap holds.
  c.act(opA, hostile, 'resume')
  t.ok(await until(() => c.getVm(opA, hostile).state === 'paused', 5_000))
  t.equal(c.getVm(opA, hostile).state_reason, 'limit:extents')
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES that would pass the extent cap is refused with nothing applied', async t => {
  const c = new Control({ limits: { maxExtentsPerVm: 64 } })
  t.teardown(() => { c.close() })
  const id = c.createVm(opA, vmBody({ type: 'sw_protected', memory: { size_mib: 16 } })).id
  let refused = -1
  for (let p = 0; p < 200; p += 2) {
    const before = c.memoryAttributes(opA, id, { limit: 10_000 })
    try {
      c.setMemoryAttributes(opA, id, { address: p * 4096, size: 4096, attributes: 0, flags: 0 })
    } catch (e) {
      t.match(e, { code: 'LIMIT_EXCEEDED' })
      t.same(c.memoryAttributes(opA, id, { limit: 10_000 }), before, 'the attributes are as they were')
      refused = p
      break
    }
  }
  t.ok(refused > 40, `refused at page ${refused}`)
  t.throws(() => c.poison(opA, id, 8 * 2 ** 20), { code: 'LIMIT_EXCEEDED' }, 'poison, which splits extents, is refused near the cap')
  // A change that merges extents is still allowed at the cap.
  c.setMemoryAttributes(opA, id, { address: 0, size: 16 * 2 ** 20, attributes: 8, flags: 0 })
  t.equal(c.memoryAttributes(opA, id, { gpa: 0, size: 16 * 2 ** 20 }).extents.length, 1)
  c.poison(opA, id, 8 * 2 ** 20)
  t.match(c.backing(opA, id, { gpa: 8 * 2 ** 20, size: 4096 }).extents, [{ poisoned: true }])
})

void t.test('FAULTLINE_MAX_VMS caps the server across tenants', async t => {
  const c = new Control({ limits: { maxVms: 2 } })
  t.teardown(() => { c.close() })
  c.createVm(opA, vmBody())
  c.createVm(opB, vmBody())
  t.throws(() => c.createVm(opA, vmBody()), { code: 'TOO_MANY_VMS', message: /server/ })
  c.deleteVm(opB, c.listVms(opB).items[0]!.id)
  t.ok(c.createVm(opA, vmBody()))
})

void t.test('memory attributes and backing are paginated: pages concatenate to the whole range', async t => {
  const c = new Control()
  t.teardown(() => { c.close() })
  const id = c.createVm(opA, vmBody({ type: 'sw_protected', memory: { size_mib: 16 } })).id
  for (let p = 0; p < 100; p += 2) c.setMemoryAttributes(opA, id, { address: p * 4096, size: 4096, attributes: 0, flags: 0 })
  c.poison(opA, id, 101 * 4096)
  for (const read of [(q: object) => c.memoryAttributes(opA, id, q), (q: object) => c.backing(opA, id, q)]) {
    const whole = read({ limit: 10_000 })
    t.equal(whole.next, null)
    t.ok(whole.extents.length > 100)
    for (const limit of [1, 7, 64]) {
      const got: unknown[] = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = read({ limit, ...(cursor === undefined ? {} : { cursor }) }) as { extents: unknown[], next: string | null }
        t.ok(page.extents.length <= limit)
        got.push(...page.extents)
        cursor = page.next ?? undefined
        pages++
      } while (cursor !== undefined && pages < 1000)
      t.same(got, whole.extents, `limit ${limit}: ${pages} pages`)
    }
  }
  t.throws(() => c.memoryAttributes(opA, id, { gpa: 8192, size: 4096, cursor: '0' }), { code: 'VALIDATION' })
  t.throws(() => c.backing(opA, id, { cursor: '12' }), { code: 'VALIDATION' })
})

// The journal budget: every VM keeps its history within an even share of a server-wide
// total, so that many busy VMs cannot take the server's memory; a new VM that makes the
// shares smaller trims everyone's history at once.
import t from 'tap'
import { JournalBudget, MIN_SHARE } from '../../src/control/journal-budget.js'
import { settle } from '../helper.js'
import { lines, setup } from '../traces/helpers.js'
import type { Principal } from '../../src/auth/index.js'
import { opA, opB, vmBody } from './fixtures.js'

void t.test('one tenant: each VM\'s share is the smaller of its own cap and an even part of the total', async t => {
  const b = new JournalBudget(100, 4000, 250)
  const caps = b.join('a')
  t.equal(b.split(), false)
  t.same([caps.events, caps.bytes], [100, 4000], 'one VM: the per-VM caps')
  b.join('a')
  t.equal(b.split(), false, 'two VMs: 125 each would be over the per-VM cap')
  t.same([caps.events, caps.bytes], [100, 4000])
  b.join('a')
  t.equal(b.split(), true, 'three VMs: the share shrinks')
  t.same([caps.events, caps.bytes], [83, 3320], 'bytes in proportion')
  for (let i = 3; i < 1000; i++) b.join('a')
  t.equal(b.split(), true)
  t.equal(caps.events, MIN_SHARE, 'never under the least share')
  for (let i = 1; i < 1000; i++) b.leave('a')
  t.equal(b.split(), false, 'fewer VMs: the shares grow back')
  t.same([caps.events, caps.bytes], [100, 4000])
  const small = new JournalBudget(8, 4000, 250)
  const c = small.join('a')
  small.split()
  t.equal(c.events, 8, 'a per-VM cap under the least share stays the cap')
  t.same(b.of('nobody'), { events: 100, bytes: 4000 }, 'a tenant without VMs: the per-VM caps')
})

void t.test('tenants share the total first, then each tenant among its VMs', async t => {
  const b = new JournalBudget(1000, 8000, 10_000)
  const a = b.join('a')
  for (let i = 1; i < 100; i++) b.join('a')
  const lone = b.join('b')
  t.equal(b.split(), true)
  t.equal(lone.events, 1000, 'a tenant\'s one VM keeps its whole cap beside another tenant\'s 100 VMs (an even split per VM would leave it 99)')
  t.equal(a.events, 90, 'what the lone VM does not need goes to the other tenant: 9,000 over its 100 VMs')
  for (let i = 1; i < 10; i++) b.join('b')
  t.equal(b.split(), true)
  t.same([lone.events, a.events], [500, 50], 'both tenants need more than half: half each, split among their VMs')
  t.equal(b.of('b'), lone, 'a tenant\'s VMs read one share')

  const m = new JournalBudget(100, 800, 900)
  const x = m.join('x')
  const y = m.join('y')
  const z = m.join('z')
  for (let i = 1; i < 10; i++) { m.join('x'); m.join('y') }
  m.split()
  t.same([z.events, x.events, y.events], [100, 40, 40], 'max-min fair: the tenant needing 100 gets it, the other two split the 800 left')
  t.same([z.bytes, x.bytes], [800, 320])
  for (let i = 0; i < 10; i++) m.leave('x')
  t.equal(m.split(), false, 'a tenant gone: nobody\'s share shrinks')
  t.same([z.events, y.events], [100, 80])
  m.leave('nobody')
  t.equal(m.split(), false, 'leaving for an unknown tenant changes nothing')
})

// An HLT loop decided by rule: events as fast as the scheduler runs it.
const SPIN = vmBody({ program: [{ op: 'repeat', forever: true, body: [{ op: 'hlt' }] }], policy: { rules: [{ reason: 'KVM_EXIT_HLT', action: 'resume' }] } })

/**
 * A control with traces whose VMs keep at most 100 events each and 200 together; what VM
 * `id` keeps now, and a way to run it until it has made `n` more events.
 */
function probe (t: Parameters<typeof setup>[0]): {
  c: ReturnType<typeof setup>['control']
  kept: (p: Principal, id: string) => { journal: number, exits: number, trace: number }
  run: (p: Principal, id: string, n: number) => Promise<void>
} {
  const s = setup(t, { journalEvents: 100, journalBytes: 1024 * 1024, journalTotalEvents: 200 })
  const c = s.control
  return {
    c,
    kept: (p, id) => {
      const seq = c.currentSeq(p, id)
      let journal = 0
      while (journal < seq) { try { c.replay(p, id, seq - journal - 1); journal++ } catch { break } }
      const trace = lines([...s.traces.trace(p, id)].join('')).filter(l => l.t === 'exit' || l.t === 'decision' || l.t === 'state').length
      return { journal, exits: c.exits(p, id, { limit: 1000 }).items.length, trace }
    },
    // Bounded: a VM that stalls fails the test instead of hanging it.
    run: async (p, id, n) => {
      const until = c.currentSeq(p, id) + n
      c.act(p, id, c.getVm(p, id).state === 'paused' ? 'resume' : 'start')
      for (let i = 0; i < 2000 && c.currentSeq(p, id) < until; i++) await settle(5)
      c.act(p, id, 'pause')
    }
  }
}

void t.test('a new VM trims every VM\'s journal, exit log and trace to the smaller share', async t => {
  const { c, kept, run } = probe(t)
  const a = c.createVm(opA, SPIN).id
  await run(opA, a, 300)
  t.ok(c.currentSeq(opA, a) > 300, `${c.currentSeq(opA, a)} events made`)
  t.same(kept(opA, a), { journal: 100, exits: 100, trace: 100 }, 'alone: the per-VM cap')
  const b = c.createVm(opA, vmBody()).id
  t.same(kept(opA, a), { journal: 100, exits: 100, trace: 100 }, 'two VMs: 100 each is still within 200')
  const d = c.createVm(opA, vmBody()).id
  t.same(kept(opA, a), { journal: 66, exits: 66, trace: 66 }, 'three VMs: trimmed to 66 at once, not at the next event')
  t.throws(() => c.replay(opA, a, c.currentSeq(opA, a) - 67), { code: 'SEQ_EXPIRED' }, 'older events are gone for since')
  c.deleteVm(opA, d)
  c.deleteVm(opA, b)
  await run(opA, a, 300)
  t.same(kept(opA, a), { journal: 100, exits: 100, trace: 100 }, 'alone again: the share grows back as events come')
})

void t.test('another tenant\'s VMs take from their tenant\'s part, not from a lone VM\'s history', async t => {
  const { c, kept, run } = probe(t)
  const lone = c.createVm(opB, SPIN).id
  await run(opB, lone, 300)
  const many = [c.createVm(opA, SPIN).id]
  for (let i = 0; i < 3; i++) many.push(c.createVm(opA, vmBody()).id)
  t.same(kept(opB, lone), { journal: 100, exits: 100, trace: 100 }, 'four VMs of tenant a beside it: tenant b\'s VM keeps its 100 (an even split per VM would cut it to 40)')
  await run(opA, many[0] as string, 300)
  t.same(kept(opA, many[0] as string), { journal: 25, exits: 25, trace: 25 }, 'tenant a\'s VMs share its half: 25 each')
  c.createVm(opB, vmBody())
  t.same(kept(opB, lone), { journal: 50, exits: 50, trace: 50 }, 'a second VM of tenant b halves b\'s part, at once')
  t.same(kept(opA, many[0] as string), { journal: 25, exits: 25, trace: 25 }, 'and leaves tenant a\'s as it was')
})

// The journal budget: every VM keeps its history within an even share of a server-wide
// total, so that many busy VMs cannot take the server's memory; a new VM that makes the
// shares smaller trims everyone's history at once.
import t from 'tap'
import { JournalBudget, MIN_SHARE } from '../../src/control/journal-budget.js'
import { settle } from '../helper.js'
import { lines, setup } from '../traces/helpers.js'
import { opA, vmBody } from './fixtures.js'

void t.test('each VM\'s share is the smaller of its own cap and an even part of the total', async t => {
  const b = new JournalBudget(100, 4000, 250)
  t.same([b.events, b.bytes], [100, 4000], 'no VM yet: the per-VM caps')
  t.equal(b.share(2), false, 'two VMs: 125 each would be over the per-VM cap')
  t.same([b.events, b.bytes], [100, 4000])
  t.equal(b.share(3), true, 'three VMs: the share shrinks')
  t.same([b.events, b.bytes], [83, 3320], 'bytes in proportion')
  t.equal(b.share(1000), true)
  t.equal(b.events, MIN_SHARE, 'never under the least share')
  t.equal(b.share(1), false, 'fewer VMs: the shares grow back')
  t.same([b.events, b.bytes], [100, 4000])
  t.equal(new JournalBudget(8, 4000, 250).events, 8, 'a per-VM cap under the least share stays the cap')
})

// An HLT loop decided by rule: events as fast as the scheduler runs it.
const SPIN = vmBody({ program: [{ op: 'repeat', forever: true, body: [{ op: 'hlt' }] }], policy: { rules: [{ reason: 'KVM_EXIT_HLT', action: 'resume' }] } })

void t.test('a new VM trims every VM\'s journal, exit log and trace to the smaller share', async t => {
  const s = setup(t, { journalEvents: 100, journalBytes: 1024 * 1024, journalTotalEvents: 200 })
  const c = s.control
  const kept = (id: string): { journal: number, exits: number, trace: number } => {
    const seq = c.currentSeq(opA, id)
    let journal = 0
    while (journal < seq) { try { c.replay(opA, id, seq - journal - 1); journal++ } catch { break } }
    const trace = lines([...s.traces.trace(opA, id)].join('')).filter(l => l.t === 'exit' || l.t === 'decision' || l.t === 'state').length
    return { journal, exits: c.exits(opA, id, { limit: 1000 }).items.length, trace }
  }
  /** Runs VM `id` until it has made `n` more events (bounded: a VM that stalls fails). */
  const run = async (id: string, n: number): Promise<void> => {
    const until = c.currentSeq(opA, id) + n
    c.act(opA, id, c.getVm(opA, id).state === 'paused' ? 'resume' : 'start')
    for (let i = 0; i < 2000 && c.currentSeq(opA, id) < until; i++) await settle(5)
    c.act(opA, id, 'pause')
  }
  const a = c.createVm(opA, SPIN).id
  await run(a, 300)
  t.ok(c.currentSeq(opA, a) > 300, `${c.currentSeq(opA, a)} events made`)
  t.same(kept(a), { journal: 100, exits: 100, trace: 100 }, 'alone: the per-VM cap')
  const b = c.createVm(opA, vmBody()).id
  t.same(kept(a), { journal: 100, exits: 100, trace: 100 }, 'two VMs: 100 each is still within 200')
  const d = c.createVm(opA, vmBody()).id
  t.same(kept(a), { journal: 66, exits: 66, trace: 66 }, 'three VMs: trimmed to 66 at once, not at the next event')
  t.throws(() => c.replay(opA, a, c.currentSeq(opA, a) - 67), { code: 'SEQ_EXPIRED' }, 'older events are gone for since')
  c.deleteVm(opA, d)
  c.deleteVm(opA, b)
  await run(a, 300)
  t.same(kept(a), { journal: 100, exits: 100, trace: 100 }, 'alone again: the share grows back as events come')
})

import t from 'tap'
import { Control } from '../../src/control/index.js'
import { EventJournal } from '../../src/control/journal.js'
import type { ControlEvent } from '../../src/control/index.js'
import { settle } from '../helper.js'
import { opA, vmBody } from './fixtures.js'

const ev = (seq: number): ControlEvent => ({ vm: 'v', tenant: 't', seq, type: 'state', frame: String(seq) })

void t.test('the journal keeps the last limit events and says when older ones are gone', async t => {
  const j = new EventJournal({ events: 4, bytes: Infinity })
  t.same(j.after(0, 0), [])
  for (let s = 1; s <= 6; s++) j.append(ev(s))
  t.equal(j.size, 4)
  t.equal(j.oldestSeq, 3)
  t.same(j.after(2, 6)?.map(e => e.seq), [3, 4, 5, 6])
  t.same(j.after(4, 6)?.map(e => e.seq), [5, 6])
  t.same(j.after(6, 6), [])
  t.equal(j.after(1, 6), null, 'seq 2 is gone')
})

void t.test('replay returns what followed since, and SEQ_EXPIRED past the bound', async t => {
  const c = new Control({ limits: { journalEvents: 16 } })
  t.teardown(() => { c.close() })
  // An HLT loop with a rule resuming each HLT: many events, quickly.
  const id = c.createVm(opA, vmBody({ program: [{ op: 'repeat', count: 20, body: [{ op: 'hlt' }] }], policy: { rules: [{ reason: 'KVM_EXIT_HLT', action: 'resume' }] } })).id
  c.act(opA, id, 'start')
  await settle(100)
  const seq = c.currentSeq(opA, id)
  t.ok(seq > 16, `made ${seq} events`)
  const tail = c.replay(opA, id, seq - 3)
  t.same(tail.map(e => e.seq), [seq - 2, seq - 1, seq])
  t.same(c.replay(opA, id, seq), [])
  t.throws(() => c.replay(opA, id, 0), { code: 'SEQ_EXPIRED' })
  t.same(c.replay(opA, id, seq - 16).length, 16)
  // The exit journal is bounded the same way; decided exits go first.
  const exits = c.exits(opA, id, { limit: 1000 }).items
  t.ok(exits.length <= 16)
  t.equal(exits.at(-1)?.exit, 20)
})

void t.test('the exits list pages by seq and filters pending', async t => {
  const c = new Control()
  t.teardown(() => { c.close() })
  const id = c.createVm(opA, vmBody({ vcpus: 3 })).id
  c.act(opA, id, 'start')
  await settle()
  c.decide(opA, id, 2, { action: 'resume' }, 'rest')
  const first = c.exits(opA, id, { limit: 2 })
  t.equal(first.items.length, 2)
  t.type(first.next, 'string')
  const second = c.exits(opA, id, { since: Number(first.next), limit: 2 })
  t.equal(second.items.length, 1)
  t.equal(second.next, null)
  t.same(c.exits(opA, id, { pending: true }).items.map(e => e.exit), [1, 3])
  t.same(c.exits(opA, id, { pending: false }).items.map(e => e.exit), [2])
  t.same(c.pendingExitEvents(opA, id).map(e => e.exit), [1, 3])
})

void t.test('the journal is bounded in bytes as well as events; the newest event is always kept', async t => {
  const big = (seq: number, n: number): ControlEvent => ({ vm: 'v', tenant: 't', seq, type: 'state', frame: 'x'.repeat(n) })
  const j = new EventJournal({ events: 1000, bytes: 1000 })
  for (let s = 1; s <= 50; s++) j.append(big(s, 100))
  t.equal(j.size, 10, '10 frames of 100 bytes fit in 1000')
  t.equal(j.oldestSeq, 41)
  t.equal(j.after(39, 50), null, 'older events are gone')
  t.same(j.after(40, 50)?.map(e => e.seq), [41, 42, 43, 44, 45, 46, 47, 48, 49, 50])
  j.append(big(51, 5000))
  t.equal(j.size, 1, 'one event larger than the bound is kept alone')
  t.equal(j.oldestSeq, 51)
  j.append(big(52, 10))
  t.same(j.after(51, 52)?.map(e => e.seq), [52])
})

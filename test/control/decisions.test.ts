import t from 'tap'
import type { Test } from 'tap'
import { Control } from '../../src/control/index.js'
import type { ControlEvent } from '../../src/control/index.js'
import { FakeClock, settle } from '../helper.js'
import { obsA, opA, opB, admin, vmBody } from './fixtures.js'

async function withPendingIo (t: Test, over = {}): Promise<{ c: Control, id: string, events: ControlEvent[], clock: FakeClock }> {
  const clock = new FakeClock()
  const c = new Control({ clock })
  t.teardown(() => { c.close() })
  const id = c.createVm(opA, vmBody(over)).id
  const events: ControlEvent[] = []
  c.subscribe({ vm: id }, e => events.push(e))
  c.act(opA, id, 'start')
  await settle()
  return { c, id, events, clock }
}
const parsed = (events: ControlEvent[]) => events.map(e => JSON.parse(e.frame) as Record<string, unknown>)

void t.test('a decision applies exactly once; the second gets EXIT_NOT_PENDING', async t => {
  const { c, id, events } = await withPendingIo(t)
  const view = c.decide(opA, id, 1, { action: 'resume' }, 'rest')
  t.match(view, { exit: 1, reason: 'KVM_EXIT_IO', decision: { action: 'resume', by: 'rest' } })
  t.throws(() => c.decide(opA, id, 1, { action: 'resume' }, 'controller'), { code: 'EXIT_NOT_PENDING' })
  t.throws(() => c.decide(opA, id, 99, { action: 'kill' }, 'controller'), { code: 'EXIT_NOT_PENDING' })
  t.equal(parsed(events).filter(m => m.type === 'decided').length, 1)
  await settle()
  t.equal(c.getVm(opA, id).state, 'stopped', 'after the resume the program ends and the VM stops')
})

void t.test('a refused decision leaves the exit pending', async t => {
  const { c, id } = await withPendingIo(t)
  t.throws(() => c.decide(opA, id, 1, { action: 'convert' }, 'rest'), { code: 'INVALID_ACTION' })
  t.equal(c.exits(opA, id, { pending: true }).items.length, 1)
  t.equal(c.pendingExitEvents(opA, id).length, 1)
})

void t.test('a kill decision kills the VM and publishes decided then state', async t => {
  const { c, id, events } = await withPendingIo(t)
  c.decide(opA, id, 1, { action: 'kill', reason: 'guest bug' }, 'controller')
  const msgs = parsed(events)
  t.match(msgs.slice(-2), [{ type: 'decided', exit: 1, action: 'kill', by: 'controller' }, { type: 'state', state: 'killed', reason: 'decision' }])
  t.equal(c.getVm(opA, id).state, 'killed')
  t.match(c.exits(opA, id).items[0]?.decision, { reason: 'guest bug' })
})

void t.test('killing or deleting a VM closes its pending exits with decided kill', async t => {
  const { c, id, events } = await withPendingIo(t, { vcpus: 2 })
  t.equal(c.pendingExitEvents(opA, id).length, 2)
  c.deleteVm(opA, id)
  const decided = parsed(events).filter(m => m.type === 'decided')
  t.same(decided.map(m => [m.action, m.by]), [['kill', 'rest'], ['kill', 'rest']])
  t.match(parsed(events).at(-2), { type: 'state', state: 'killed', reason: 'deleted' })
  t.match(parsed(events).at(-1), { type: 'state', state: 'deleted', reason: 'deleted' }, 'the last event says the VM is gone')
  t.notOk(c.vmExists(opA, id))
  t.throws(() => c.getVm(opA, id), { code: 'VM_NOT_FOUND' })
})

void t.test('events carry consecutive seqs and reach every listener as the same frame string', async t => {
  const c = new Control()
  t.teardown(() => { c.close() })
  const id = c.createVm(opA, vmBody()).id
  const one: ControlEvent[] = []
  const two: ControlEvent[] = []
  const tenant: ControlEvent[] = []
  const all: ControlEvent[] = []
  c.subscribe({ vm: id }, e => one.push(e))
  c.subscribe({ vm: id }, () => { throw new Error('a broken listener') })
  c.subscribe({ vm: id }, e => two.push(e))
  c.subscribe({ tenant: 'a' }, e => tenant.push(e))
  const stop = c.subscribe({ all: true }, e => all.push(e))
  c.act(opA, id, 'start')
  await settle()
  c.decide(opA, id, 1, { action: 'resume' }, 'rest')
  await settle()
  t.same(one.map(e => e.seq), [2, 3, 4, 5], 'start, exit, decided, stopped')
  t.same(one.map(e => e.type), ['state', 'exit', 'decided', 'state'])
  for (let i = 0; i < one.length; i++) t.equal(one[i]?.frame, two[i]?.frame, 'same frame')
  t.ok(one.every((e, i) => Object.is(e, two[i])), 'the very same event objects')
  t.equal(tenant.length, 4)
  t.equal(all.length, 4)
  stop()
  c.act(opA, id, 'kill')
  t.equal(all.length, 4, 'unsubscribed')
  t.same(JSON.parse(one[1]?.frame ?? ''), {
    type: 'exit', vm: id, exit: 1, seq: 3, vcpu: 0, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 },
    io: { direction: 1, size: 1, port: 0x80, count: 1, data: [7] }, pending: true
  })
  t.equal(Object.keys(JSON.parse(one[1]?.frame ?? '{}') as object).join(','), 'type,vm,exit,seq,vcpu,reason,exit_reason,run,io,pending', 'contract order')
  t.same(JSON.parse(one[2]?.frame ?? ''), { type: 'decided', vm: id, exit: 1, seq: 4, action: 'resume', by: 'rest' })
  t.same(JSON.parse(one[3]?.frame ?? ''), { type: 'state', vm: id, seq: 5, state: 'stopped', reason: 'halted' })
  t.equal(c.currentSeq(opA, id), 6)
})

void t.test('a rule decides a matching exit with by rule, after the exit event', async t => {
  const { c, id, events } = await withPendingIo(t, { policy: { rules: [{ reason: 'KVM_EXIT_HLT', action: 'resume' }, { reason: 'KVM_EXIT_IO', action: 'resume' }] } })
  await settle()
  const msgs = parsed(events)
  t.match(msgs.filter(m => m.type !== 'state'), [{ type: 'exit', exit: 1, pending: false }, { type: 'decided', exit: 1, by: 'rule', action: 'resume' }])
  const v = c.getVm(opA, id)
  t.equal(v.state, 'stopped')
  t.equal(v.counters.by_rule, 1)
  t.match(c.exits(opA, id).items[0], { exit: 1, pending: false, decision: { by: 'rule' } })
})

void t.test('a rule the core refuses leaves the exit pending for a controller', async t => {
  const { c, id, events } = await withPendingIo(t, { policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'convert' }] } })
  t.equal(c.getVm(opA, id).counters.pending, 1)
  t.match(parsed(events).find(m => m.type === 'exit'), { exit: 1, pending: true }, 'sent as pending: a client must answer it')
  t.match(c.pendingExitEvents(opA, id).map(e => JSON.parse(e.frame) as unknown), [{ exit: 1, pending: true }])
})

void t.test('rules match on errno and private', async t => {
  // TDX: a shared read of private memory is an implicit conversion request (flags 0).
  const program = [{ op: 'read', gpa: 8192, private: false }]
  const miss = await withPendingIo(t, { program, policy: { rules: [{ reason: 'KVM_EXIT_MEMORY_FAULT', action: 'convert', private: true }] } })
  t.equal(miss.c.getVm(opA, miss.id).counters.pending, 1, 'private: true does not match a shared request')
  const hit = await withPendingIo(t, { program, policy: { rules: [{ reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EHWPOISON', action: 'kill' }, { reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EFAULT', private: false, action: 'convert' }] } })
  t.equal(hit.c.getVm(opA, hit.id).counters.by_rule, 1)
  t.match(hit.c.exits(opA, hit.id).items[0]?.decision, { action: 'convert', by: 'rule' })
})

void t.test('a timeout applies on_timeout with by timeout, and is cleared by a decision', async t => {
  const { c, id, clock, events } = await withPendingIo(t, { vcpus: 2, policy: { decision_timeout_ms: 1000, on_timeout: 'resume' } })
  t.equal(clock.pending, 2)
  c.decide(opA, id, 1, { action: 'resume' }, 'rest')
  t.equal(clock.pending, 1, 'the decided exit\'s timer is cleared')
  clock.advance(999)
  t.equal(c.getVm(opA, id).counters.pending, 1)
  clock.advance(1)
  t.match(parsed(events).filter(m => m.type === 'decided'), [{ exit: 1, by: 'rest' }, { exit: 2, by: 'timeout', action: 'resume' }])
  t.equal(c.getVm(opA, id).counters.by_timeout, 1)
})

void t.test('a timeout whose action the exit refuses kills the VM', async t => {
  const { clock, events } = await withPendingIo(t, { policy: { decision_timeout_ms: 50, on_timeout: 'convert' } })
  clock.advance(50)
  t.match(parsed(events).slice(-2), [{ type: 'decided', action: 'kill', by: 'timeout' }, { type: 'state', state: 'killed', reason: 'timeout' }])
})

void t.test('the default policy kills on timeout; no timeout means waiting for ever', async t => {
  const a = await withPendingIo(t, { policy: { decision_timeout_ms: 10 } })
  a.clock.advance(10)
  t.equal(a.c.getVm(opA, a.id).state, 'killed')
  const b = await withPendingIo(t)
  t.equal(b.clock.pending, 0)
})

void t.test('observers read but change nothing; other tenants see nothing', async t => {
  const { c, id } = await withPendingIo(t)
  t.equal(c.getVm(obsA, id).id, id)
  t.equal(c.getVm(admin, id).id, id, 'admin sees every tenant')
  t.throws(() => c.decide(obsA, id, 1, { action: 'resume' }, 'rest'), { code: 'FORBIDDEN' })
  t.throws(() => c.act(obsA, id, 'kill'), { code: 'FORBIDDEN' })
  t.throws(() => c.createVm(obsA, vmBody()), { code: 'FORBIDDEN' })
  for (const fn of [
    () => c.getVm(opB, id), () => c.decide(opB, id, 1, { action: 'kill' }, 'rest'), () => c.act(opB, id, 'kill'),
    () => c.replay(opB, id, 0), () => c.pendingExitEvents(opB, id), () => c.currentSeq(opB, id), () => c.deleteVm(opB, id)
  ]) t.throws(fn, { code: 'VM_NOT_FOUND' })
  t.notOk(c.vmExists(opB, id))
  t.equal(c.getVm(opA, id).state, 'running')
})

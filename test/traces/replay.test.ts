// Replays: record then replay gives no divergence for every preset on every type with more
// than one vCPU (the schedule is the trace's), a controller that decides as recorded passes,
// one that differs in one decision gives exactly one divergence at that exit, and a changed
// simulator shows as SIMULATION_DIVERGED with both payloads.
import t from 'tap'
import { PRESETS } from '../../src/kvm/program/presets/index.js'
import { alwaysConvert } from '../../src/cli/policies.js'
import type { Policy } from '../../src/cli/policies.js'
import type { ExitFields } from '../../src/client/types.js'
import { RECORDER, recordRun } from '../../scripts/record-run.js'
import { finished, lines, replay, setup, text } from './helpers.js'
import type { Setup } from './helpers.js'
import { opB } from '../control/fixtures.js'
import { FakeClock } from '../helper.js'

/** A controller on the replay VM: decides each pending exit with `policy`, a turn later. */
function controller (s: Setup, vm: string, policy: Policy): void {
  s.control.subscribe({ vm }, (e) => {
    if (e.type !== 'exit') return
    const exit = JSON.parse(e.frame) as ExitFields & { exit: number, pending: boolean }
    if (!exit.pending) return
    setImmediate(() => {
      // Another vCPU's kill may have closed it meanwhile.
      if (s.control.pendingExitEvents(RECORDER, vm).every(p => p.exit !== exit.exit)) return
      const { reason, ...d } = policy(exit)
      try {
        s.control.apply(RECORDER, vm, exit.exit, reason === undefined ? d : { ...d, reason }, 'controller')
      } catch (err) {
        if ((err as { code?: string }).code !== 'INVALID_ACTION') throw err
        s.control.apply(RECORDER, vm, exit.exit, { action: 'kill', reason: 'conversion refused' }, 'controller')
      }
    })
  })
}

void t.test('record then replay: no divergence for every preset on every type, 3 vCPUs', async t => {
  const s = setup(t)
  for (const p of PRESETS) {
    for (const type of p.types) {
      const run = await recordRun({ body: { type, vcpus: 3, preset: p.name }, maxExits: 40, on: s })
      const v = await replay(s, RECORDER, run.trace, { decide: 'recorded', on_divergence: 'continue' })
      t.equal(v.state, 'passed', `${p.name} on ${type}: ${JSON.stringify(v.divergences.slice(0, 1))}`)
      t.equal(v.exits.replayed, run.exits, `${p.name} on ${type}: ${run.exits} exits`)
    }
  }
})

void t.test('a controller deciding as recorded passes; decisions are compared', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 2, preset: 'conversion-storm' }, maxExits: 30, on: s })
  const view = s.traces.create(RECORDER, run.trace, { decide: 'controller' })
  controller(s, view.vm, alwaysConvert)
  const v = await finished(s, RECORDER, view.id)
  t.equal(v.state, 'passed', JSON.stringify(v.divergences.slice(0, 2)))
  t.ok(v.decisions.compared > 20, `${v.decisions.compared} decisions compared`)
})

/** always-convert, but the exit with this id is killed. */
function differsAt (id: number): Policy {
  return (exit) => (exit as ExitFields & { exit: number }).exit === id ? { action: 'kill' } : alwaysConvert(exit)
}

void t.test('a policy changed in one decision: exactly one divergence, at that exit', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, preset: 'conversion-storm' }, maxExits: 30, on: s })
  for (const mode of ['use_recorded', 'stop', 'continue'] as const) {
    const view = s.traces.create(RECORDER, run.trace, { decide: 'controller', on_divergence: mode })
    t.equal(view.state, 'running')
    controller(s, view.vm, differsAt(7))
    const v = await finished(s, RECORDER, view.id)
    t.equal(v.state, 'diverged', mode)
    // continue: the controller's decision stands, and the guest's path may differ from there.
    if (mode !== 'continue') t.equal(v.divergences.length, 1, `${mode}: one divergence`)
    const d = v.divergences[0]
    t.equal(d?.kind, 'DECISION_DIVERGED')
    t.equal(d?.exit, 7, 'at exit 7')
    t.match(d?.recorded, { t: 'decision', exit: 7, action: 'convert' })
    t.match(d?.actual, { exit: 7, action: 'kill' })
    if (mode === 'use_recorded') t.equal(v.decisions.compared, v.decisions.recorded, 'the run went on: every decision compared')
    if (mode === 'stop') t.ok(v.lines.done < v.lines.total, 'stopped at the divergence')
    if (mode === 'continue') t.equal(v.lines.done, v.lines.total, 'went on to the end')
  }
})

void t.test('a changed simulation: SIMULATION_DIVERGED with both payloads', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'snp', vcpus: 1, preset: 'implicit-conversions' }, maxExits: 30, on: s })
  const ls = lines(run.trace)
  const i = ls.findIndex(l => l.t === 'exit')
  const exit = ls[i]?.exit as { exit: number, memory_fault: { gpa: number } }
  exit.memory_fault.gpa += 4096
  const v = await replay(s, RECORDER, text(ls), { decide: 'recorded', on_divergence: 'continue' })
  t.equal(v.state, 'diverged')
  t.equal(v.divergences.length, 1, 'only that exit differs')
  t.match(v.divergences[0], { kind: 'SIMULATION_DIVERGED', exit: exit.exit, line: i + 1, recorded: { exit: { memory_fault: { gpa: exit.memory_fault.gpa } } }, actual: { t: 'exit', exit: { memory_fault: { gpa: exit.memory_fault.gpa - 4096 } } } })
})

void t.test('exit lines are compared by value: another layout of the line is the same exit, a frame\'s key order is not', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'snp', vcpus: 1, preset: 'implicit-conversions' }, maxExits: 30, on: s })
  const rows = run.trace.trimEnd().split('\n')
  const exits = rows.flatMap((r, k) => r.startsWith('{"t":"exit"') ? [k] : [])
  t.ok(exits.length >= 3, `${exits.length} exit lines`)
  // Written another way (keys of the line reordered, spaces): the same values, no divergence.
  const spaced = rows.map((r, k) => {
    if (!exits.includes(k)) return r
    const l = JSON.parse(r) as { seq: number, exit: unknown }
    return JSON.stringify({ exit: l.exit, seq: l.seq, t: 'exit' }, null, 1).replace(/\n/g, '')
  })
  const same = await replay(s, RECORDER, spaced.join('\n') + '\n', { decide: 'recorded' })
  t.equal(same.state, 'passed', JSON.stringify(same.divergences[0]))
  t.equal(same.exits.replayed, exits.length)
  // One frame with its vcpu and reason swapped: not the frame the stream sends.
  const k = exits[1] as number
  const l = JSON.parse(rows[k] as string) as { seq: number, exit: Record<string, unknown> }
  const { type, vm, exit, seq, vcpu, reason, ...rest } = l.exit
  const reordered = [...rows]
  reordered[k] = JSON.stringify({ t: 'exit', seq: l.seq, exit: { type, vm, exit, seq, reason, vcpu, ...rest } })
  const v = await replay(s, RECORDER, reordered.join('\n') + '\n', { decide: 'recorded', on_divergence: 'continue' })
  t.equal(v.state, 'diverged')
  t.match(v.divergences, [{ kind: 'SIMULATION_DIVERGED', exit, line: k + 1, recorded: { t: 'exit', exit: { reason, vcpu } }, actual: { t: 'exit', exit: { reason, vcpu } } }], 'that exit only')
})

void t.test('missing and extra outputs are divergences', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, preset: 'tdx-boot' }, maxExits: 30, on: s })
  const ls = lines(run.trace)
  // The recording loses its first exit line: the replay's exit comes where a decision was.
  const first = ls.findIndex(x => x.t === 'exit')
  const v = await replay(s, RECORDER, text(ls.filter((_l, k) => k !== first)), { decide: 'recorded', on_divergence: 'continue' })
  t.equal(v.state, 'diverged')
  t.match(v.divergences[0], { kind: 'DECISION_DIVERGED', recorded: { t: 'decision' }, actual: { t: 'exit' } })
  // It loses the exit and its decision: the replay's exit is extra at the next input.
  const v1 = await replay(s, RECORDER, text(ls.filter((_l, k) => k !== first && k !== first + 1)), { decide: 'recorded', on_divergence: 'continue' })
  t.match(v1.divergences[0], { kind: 'SIMULATION_DIVERGED', recorded: null, actual: { t: 'exit' } }, 'an extra output')
  // A state the replay does not reach.
  const ls2 = lines(run.trace)
  ls2.splice(ls2.length - 1, 0, { t: 'state', seq: 999, state: 'crashed', reason: 'KVM_SYSTEM_EVENT_CRASH' })
  const v2 = await replay(s, RECORDER, text(ls2), { decide: 'recorded', on_divergence: 'stop' })
  t.match(v2.divergences, [{ kind: 'SIMULATION_DIVERGED', exit: null, seq: 999, actual: null }])
})

void t.test('REST inputs and actions are replayed: attributes, poison, interrupts, pause, resume, reset, kill', async t => {
  const s = setup(t)
  const c = s.control
  const vm = c.createVm(RECORDER, { type: 'sw_protected', vcpus: 2, memory: { size_mib: 16 }, program: [{ op: 'repeat', forever: true, body: [{ op: 'write', gpa: 0, private: false, vcpu_stride: 8192 }, { op: 'out', port: 0x80, size: 1, value: 1 }] }] })
  c.setMemoryAttributes(RECORDER, vm.id, { address: 0, size: 8192, attributes: 0, flags: 0 })
  t.throws(() => c.setMemoryAttributes(RECORDER, vm.id, { address: 1, size: 8192, attributes: 0, flags: 0 }), 'a refused write is recorded too')
  c.poison(RECORDER, vm.id, 3 * 4096)
  c.act(RECORDER, vm.id, 'start')
  const decideAll = async (): Promise<void> => {
    for (let k = 0; k < 200; k++) {
      await new Promise(resolve => setImmediate(resolve))
      for (const e of c.pendingExitEvents(RECORDER, vm.id)) {
        const x = JSON.parse(e.frame) as ExitFields & { exit: number }
        const { reason: _r, ...d } = alwaysConvert(x)
        c.apply(RECORDER, vm.id, x.exit, d, 'rest')
      }
    }
  }
  await decideAll()
  c.injectInterrupt(RECORDER, vm.id, 0)
  c.injectInterrupt(RECORDER, vm.id, 1)
  c.act(RECORDER, vm.id, 'pause')
  c.act(RECORDER, vm.id, 'resume')
  await decideAll()
  c.act(RECORDER, vm.id, 'reset')
  await decideAll()
  c.act(RECORDER, vm.id, 'kill')
  const trace = [...s.traces.trace(RECORDER, vm.id)].join('')
  const ls = lines(trace)
  for (const op of ['attributes', 'poison', 'interrupt', 'reset']) t.ok(ls.some(l => l.op === op), `${op} recorded`)
  for (const reason of ['pause', 'resume', 'reset', 'kill']) t.ok(ls.some(l => l.t === 'state' && l.reason === reason), `${reason} recorded`)
  const v = await replay(s, RECORDER, trace, { decide: 'recorded', on_divergence: 'continue' })
  t.equal(v.state, 'passed', JSON.stringify(v.divergences.slice(0, 2)))
  t.equal(c.getVm(RECORDER, v.vm).state, 'killed', 'the replay VM ends as the recorded one')
})

void t.test('consecutive slices of a vCPU are one line with a count, and replay exactly', async t => {
  const s = setup(t, { runBudget: 16 })
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, memory: { size_mib: 8 }, program: [{ op: 'sweep', gpa: 0, size: 4 * 1024 * 1024, access: 'write' }, { op: 'out', port: 0x80, size: 1, value: 1 }] }, maxExits: 10, on: s })
  const runs = lines(run.trace).filter(l => l.op === 'run')
  t.ok(runs.some(l => typeof l.n === 'number' && l.n > 1), 'merged run lines')
  const v = await replay(s, RECORDER, run.trace, { decide: 'recorded' })
  t.equal(v.state, 'passed')
  t.equal(v.exits.replayed, 1)
})

void t.test('a replay VM: the scheduler leaves it alone, recorded mode refuses client decisions, deleting it stops the replay', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, preset: 'tdx-boot' }, maxExits: 30, on: s })
  // Recorded mode: the replay decides; a client's decision is refused.
  const rv = s.traces.create(RECORDER, run.trace, { decide: 'recorded' })
  t.throws(() => s.control.apply(RECORDER, rv.vm, 1, { action: 'convert' }, 'controller'), { code: 'CONFLICT' })
  await finished(s, RECORDER, rv.id)
  // Controller mode: the replay waits at the first recorded decision, its exit pending.
  const view = s.traces.create(RECORDER, run.trace, { decide: 'controller' })
  for (let k = 0; k < 50; k++) await new Promise(resolve => setImmediate(resolve))
  const w = s.traces.get(RECORDER, view.id)
  t.equal(w.state, 'waiting')
  t.equal(s.control.getVm(RECORDER, view.vm).counters.pending, 1, 'the first exit waits for the controller')
  t.equal(s.control.getVm(RECORDER, view.vm).counters.exits, 1, 'and the scheduler ran nothing more')
  t.throws(() => s.control.apply(RECORDER, view.vm, 99, { action: 'convert' }, 'controller'), { code: 'EXIT_NOT_PENDING' })
  s.control.deleteVm(RECORDER, view.vm)
  const v = s.traces.get(RECORDER, view.id)
  t.equal(v.state, 'stopped')
  t.match(v.error, /deleted/)
  // Tenancy, listing, deleting.
  t.throws(() => s.traces.get(opB, view.id), { code: 'REPLAY_NOT_FOUND' })
  t.same(s.traces.list(RECORDER).map(r => r.id), [rv.id, view.id])
  t.same(s.traces.list(opB), [])
  s.traces.delete(RECORDER, rv.id)
  t.throws(() => s.traces.get(RECORDER, rv.id), { code: 'REPLAY_NOT_FOUND' })
})

void t.test('a decision the core refuses is refused to the controller, as on any VM; a refused recorded one is a divergence', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, preset: 'io-heavy' }, maxExits: 20, on: s })
  // The controller converts an I/O exit: INVALID_ACTION at once, the exit still pending, so
  // the controller can answer again (this one kills); that answer is what is compared.
  const view = s.traces.create(RECORDER, run.trace, { decide: 'controller', on_divergence: 'use_recorded' })
  const refusals: string[] = []
  s.control.subscribe({ vm: view.vm }, (e) => {
    if (e.type !== 'exit' || e.exit !== 4) return
    setImmediate(() => {
      try { s.control.apply(RECORDER, view.vm, 4, { action: 'convert' }, 'controller') } catch (err) { refusals.push((err as { code: string }).code) }
      t.equal(s.control.pendingExitEvents(RECORDER, view.vm).map(p => p.exit).join(), '4', 'still pending after the refusal')
    })
  })
  controller(s, view.vm, (e) => (e as ExitFields & { exit: number }).exit === 4 ? { action: 'kill' } : alwaysConvert(e))
  const v = await finished(s, RECORDER, view.id)
  t.same(refusals, ['INVALID_ACTION'])
  t.match(v.divergences, [{ kind: 'DECISION_DIVERGED', exit: 4, actual: { action: 'kill' } }])
  t.equal(v.divergences.length, 1)
  t.equal(v.lines.done, v.lines.total)
  // A recorded decision the core refuses (a trace edited by hand): reported, not a failure.
  const ls = lines(run.trace)
  const d = ls.find(l => l.t === 'decision' && l.exit === 2) as Record<string, unknown>
  d.action = 'convert'
  delete d.data
  delete d.ret
  const r = await replay(s, RECORDER, text(ls), { decide: 'recorded' })
  t.equal(r.state, 'diverged')
  t.match(r.divergences, [{ kind: 'DECISION_DIVERGED', exit: 2, actual: { refused: String } }])
})

void t.test('decision timeouts: a replay VM has none; a timeout\'s recorded decision is applied (recorded) or waited for (controller)', async t => {
  const clock = new FakeClock()
  const s = setup(t, {}, clock)
  const c = s.control
  const vm = c.createVm(RECORDER, { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [{ op: 'out', port: 1, size: 1, value: 1 }, { op: 'out', port: 1, size: 1, value: 2 }], policy: { decision_timeout_ms: 1000, on_timeout: 'resume' }, autostart: true })
  for (let k = 0; k < 4; k++) {
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
    clock.advance(1000)
  }
  const trace = [...s.traces.trace(RECORDER, vm.id)].join('')
  t.equal(lines(trace).filter(l => l.t === 'decision' && l.by === 'timeout').length, 2, 'two decisions by timeout')
  const v = await replay(s, RECORDER, trace, { decide: 'recorded' })
  t.equal(v.state, 'passed', JSON.stringify(v.divergences))
  t.equal(c.getVm(RECORDER, v.vm).policy.decision_timeout_ms, null, 'the replay VM has no timeout')
  const view = s.traces.create(RECORDER, trace, { decide: 'controller' })
  for (let i = 0; i < 50; i++) await new Promise(resolve => setImmediate(resolve))
  clock.advance(10_000)
  t.equal(s.traces.get(RECORDER, view.id).state, 'waiting', 'waits for the controller, not a timer')
  controller(s, view.vm, () => ({ action: 'resume' }))
  for (const e of c.pendingExitEvents(RECORDER, view.vm)) c.apply(RECORDER, view.vm, e.exit as number, { action: 'resume' }, 'rest')
  const w = await finished(s, RECORDER, view.id)
  t.equal(w.state, 'passed', JSON.stringify(w.divergences))
})

void t.test('a run line with a huge count is gone through a share at a time: the server keeps turning, and DELETE stops it', async t => {
  const s = setup(t)
  const spin = [{ op: 'repeat', forever: true, body: [{ op: 'read', gpa: 0 }] }]
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, memory: { size_mib: 8 }, program: spin }, maxExits: 1, on: s, stopAfterTurns: 3 })
  const ls = lines(run.trace)
  const r = ls.find(l => l.op === 'run') as Record<string, unknown>
  r.n = 1e12
  const view = s.traces.create(RECORDER, text(ls), { decide: 'recorded' })
  for (let i = 0; i < 20; i++) await new Promise(resolve => setTimeout(resolve, 1))
  const v = s.traces.get(RECORDER, view.id)
  t.equal(v.state, 'running', 'still on that line, and the event loop turned')
  s.traces.delete(RECORDER, view.id)
  t.throws(() => s.traces.get(RECORDER, view.id), { code: 'REPLAY_NOT_FOUND' })
})

void t.test('a tenant keeps at most FAULTLINE_MAX_VMS_PER_TENANT finished replays: the oldest goes', async t => {
  const s = setup(t, { maxVmsPerTenant: 3 })
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, preset: 'buggy-guest' }, maxExits: 5, on: s })
  s.control.deleteVm(RECORDER, run.vm)
  const ids: string[] = []
  for (let k = 0; k < 4; k++) {
    const v = await replay(s, RECORDER, run.trace, { decide: 'recorded' })
    ids.push(v.id)
    s.control.deleteVm(RECORDER, v.vm)
  }
  t.same(s.traces.list(RECORDER).map(r => r.id), ids.slice(1))
})

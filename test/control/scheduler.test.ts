// The scheduler alone, with a fake clock and fake VMs: the order it runs slices in (tenant,
// then VM, then vCPU, each ring resuming where it stopped) and where a turn ends (its time
// spent), measured in slices rather than in wall time.
import t from 'tap'
import { Scheduler } from '../../src/control/scheduler.js'
import type { SliceSink } from '../../src/control/scheduler.js'
import type { VmRecord } from '../../src/control/record.js'

interface Rig { scheduler: Scheduler, ran: string[], clock: { now: number }, vm: (tenant: string, name: string, vcpus?: number) => VmRecord }

/** Each slice takes 0.02 ms of the fake clock; a turn lasts 0.05 ms, so it runs 3 slices. */
function rig (sink: Partial<SliceSink> = {}): Rig {
  const clock = { now: 0 }
  const ran: string[] = []
  const noop = (): void => {}
  const scheduler = new Scheduler(100, 1000, { run: (rec, v, budget) => rec.vm.run(v, budget), onExit: noop, onHalted: noop, onRunError: noop, onSliceEnd: noop, ...sink }, () => clock.now, 0.05)
  const vm = (tenant: string, name: string, vcpus = 1): VmRecord => ({
    tenant,
    state: 'running',
    config: { vcpus },
    halted: new Set<number>(),
    blocked: new Set<number>(),
    nextVcpu: 0,
    vm: {
      extentCount: 0,
      run: (v: number) => { clock.now += 0.02; ran.push(vcpus > 1 ? `${name}.${v}` : name); return { kind: 'yield' } }
    }
  }) as unknown as VmRecord
  return { scheduler, ran, clock, vm }
}

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

void t.test('turns alternate tenants, then VMs within a tenant, then vCPUs, resuming where they stopped', async t => {
  const { scheduler, ran, vm } = rig()
  t.teardown(() => { scheduler.close() })
  for (const n of ['a1', 'a2', 'a3']) scheduler.setRunning(vm('a', n), true)
  scheduler.setRunning(vm('b', 'b1', 2), true)
  await turn()
  t.same(ran, ['a1', 'b1.0', 'a2'], 'a turn ends once its time is spent: 3 slices of 0.02 ms past 0.05 ms')
  await turn()
  await turn()
  t.same(ran, ['a1', 'b1.0', 'a2', 'b1.1', 'a3', 'b1.0', 'a1', 'b1.1', 'a2'],
    'tenant b (one VM) gets as many slices as tenant a (three), and every ring goes on from where it was')
})

void t.test('a VM that stops or is blocked leaves the rings; a tenant with nothing runnable is skipped', async t => {
  const { scheduler, ran, vm } = rig()
  t.teardown(() => { scheduler.close() })
  const a1 = vm('a', 'a1')
  const a2 = vm('a', 'a2')
  const b1 = vm('b', 'b1')
  for (const r of [a1, a2, b1]) scheduler.setRunning(r, true)
  b1.blocked.add(0)
  await turn()
  t.same(ran, ['a1', 'a2', 'a1'], 'b has nothing runnable: a runs on')
  a1.state = 'stopped'
  scheduler.setRunning(a1, false)
  b1.blocked.delete(0)
  scheduler.wake()
  await turn()
  t.same(ran.slice(3), ['b1', 'a2', 'b1'])
  scheduler.setRunning(a2, false)
  scheduler.setRunning(b1, false)
  scheduler.setRunning(b1, false)
  await turn()
  t.equal(ran.length, 6, 'nothing left to run: no more slices')
})

void t.test('a slice that finds the VM near its extent cap gets a smaller budget', async t => {
  const budgets: number[] = []
  const { scheduler, vm } = rig()
  t.teardown(() => { scheduler.close() })
  const r = vm('a', 'a1')
  const fake = r.vm as unknown as { extentCount: number, run: (v: number, b: number) => unknown }
  fake.run = (_v, b) => { budgets.push(b); fake.extentCount += 330; if (fake.extentCount > 1000) { r.state = 'paused'; scheduler.setRunning(r, false) } return { kind: 'yield' } }
  scheduler.setRunning(r, true)
  await turn()
  await turn()
  t.same(budgets, [100, 100, 100, 16], 'full budget while there is room, then at least 16 units')
})

void t.test('backlogged: a tenant whose VMs could still run when a turn yielded, and no other', async t => {
  const { scheduler, ran, vm } = rig()
  t.teardown(() => { scheduler.close() })
  const busy = [vm('a', 'a1'), vm('a', 'a2'), vm('a', 'a3')]
  const victim = vm('b', 'b1')
  for (const r of busy) scheduler.setRunning(r, true)
  scheduler.setRunning(victim, true)
  t.equal(scheduler.backlogged('a'), false, 'before any turn: no backlog')
  // The victim blocks on its exit as soon as it has run (a vCPU waiting for its decision).
  const run = victim.vm.run.bind(victim.vm)
  ;(victim.vm as unknown as { run: typeof run }).run = (v, b) => { victim.blocked.add(0); return run(v, b) }
  await turn()
  t.same(ran, ['a1', 'b1', 'a2'], 'the turn yields with time spent')
  t.equal(scheduler.backlogged('a'), true, 'tenant a still had VMs to run')
  t.equal(scheduler.backlogged('b'), false, 'tenant b\'s only vCPU waits for its decision, not for the CPU')
  t.equal(scheduler.backlogged('c'), false, 'a tenant with no running VM')
  for (const r of busy) r.blocked.add(0)
  scheduler.wake()
  await turn()
  t.equal(scheduler.backlogged('a'), false, 'a turn that ran out of work clears it')
})

void t.test('an exit that leaves its tenant nothing to run ends the turn beside another tenant; alone, or with more to run, it does not', async t => {
  const { scheduler, ran, vm, clock } = rig()
  t.teardown(() => { scheduler.close() })
  // Slices here take no time, so only an exit can end a turn before its 0.05 ms.
  const exiting = (r: VmRecord, name: string): void => {
    const fake = r.vm as unknown as { run: (v: number) => unknown }
    fake.run = (v) => {
      ran.push(name)
      r.blocked.add(v)
      return { kind: 'exit', exit: { exit: 1, vcpu: v } }
    }
  }
  const spinning = (r: VmRecord, name: string): void => {
    const fake = r.vm as unknown as { run: (v: number) => unknown }
    // 0.01 ms a slice: five to a turn unless something ends it sooner.
    fake.run = () => { ran.push(name); clock.now += 0.01; return { kind: 'yield' } }
  }
  const victim = vm('v', 'victim')
  const hostile = vm('h', 'hostile')
  exiting(victim, 'victim')
  spinning(hostile, 'hostile')
  scheduler.setRunning(victim, true)
  scheduler.setRunning(hostile, true)
  await turn()
  t.same(ran, ['victim'], 'the victim exits and has nothing more to run: the turn ends there, its frame goes out now')
  await turn()
  t.same(ran.slice(1), ['hostile', 'hostile', 'hostile', 'hostile', 'hostile'], 'the next turn is the hostile tenant\'s until its time is spent')
  // The victim's decision: it runs at its tenant's next slot, and again ends the turn.
  victim.blocked.delete(0)
  scheduler.wake()
  ran.length = 0
  await turn()
  t.same(ran, ['victim'], 'its tenant is next in the ring: it runs first, exits, and the turn ends again')

  // A tenant alone: an exit does not end the turn (nobody else waits for the CPU).
  const solo = rig()
  t.teardown(() => { solo.scheduler.close() })
  const a = solo.vm('a', 'a', 2)
  const fa = a.vm as unknown as { run: (v: number) => unknown }
  fa.run = (v) => { solo.ran.push(`a.${v}`); a.blocked.add(v); return { kind: 'exit', exit: { exit: v, vcpu: v } } }
  solo.scheduler.setRunning(a, true)
  await turn()
  t.same(solo.ran, ['a.0', 'a.1'], 'both vCPUs run in the one turn')

  // Beside another tenant, an exit from a tenant that still has a VM to run does not end it either.
  const two = rig()
  t.teardown(() => { two.scheduler.close() })
  const b1 = two.vm('b', 'b1')
  const b2 = two.vm('b', 'b2')
  const c = two.vm('c', 'c')
  const fb1 = b1.vm as unknown as { run: (v: number) => unknown }
  fb1.run = (v) => { two.ran.push('b1'); b1.blocked.add(v); return { kind: 'exit', exit: { exit: 1, vcpu: v } } }
  for (const r of [b1, b2, c]) two.scheduler.setRunning(r, true)
  await turn()
  t.same(two.ran, ['b1', 'c', 'b2', 'c'], 'b2 could still run: the turn went on until its time was spent')
})

// A run's budget counts work (pages checked and populated), not program steps: a large access
// over a fragmented attribute map stops at a page boundary and resumes there, on the next
// run or after a snapshot, with the same exits whatever the budgets.
import t from 'tap'
import { Vm } from '../../src/kvm/index.js'
import type { ExitRecord, VmSnapshot } from '../../src/kvm/index.js'
import type { Program } from '../../src/kvm/program/types.js'
import { MIB, PAGE, decideLikeVmm, vmWith } from './helpers/vm.js'

const roundTrip = (vm: Vm): Vm => Vm.restore(JSON.parse(JSON.stringify(vm.snapshot())) as VmSnapshot)

/** A sw_protected VM whose first 2 MiB alternate private and shared every other page. */
function fragmented (program: Program): Vm {
  const vm = vmWith(program, { type: 'sw_protected', initial_attributes: 'shared', memslots: [{ slot: 0, gpa: 0, size: 16 * MIB, guest_memfd: true }] })
  for (let p = 0; p < 512; p += 2) vm.setMemoryAttributes({ address: p * PAGE, size: PAGE, attributes: 8, flags: 0 })
  return vm
}

/** Runs vCPU 0 to its end with `budget` per run, deciding like a VMM; optionally swaps the VM between runs. */
function drain (vm: Vm, budget: number, swap?: (vm: Vm, runs: number) => Vm): { exits: ExitRecord[], runs: number, vm: Vm } {
  const exits: ExitRecord[] = []
  let runs = 0
  for (;;) {
    if (runs > 1_000_000) throw new Error('no end')
    const r = vm.run(0, budget)
    runs++
    if (swap !== undefined) vm = swap(vm, runs)
    if (r.kind === 'halted') return { exits, runs, vm }
    if (r.kind !== 'exit') continue
    exits.push(r.exit)
    if (decideLikeVmm(vm, r.exit).vm !== 'continue') return { exits, runs, vm }
  }
}

const PROGRAM: Program = [
  { op: 'read', gpa: 0, size: MIB },
  { op: 'write', gpa: 4 * MIB, size: MIB, private: true },
  { op: 'sweep', gpa: 8 * MIB, size: 2 * MIB, stride: 64 * 1024, access: 'write' },
  { op: 'read', gpa: 15.5 * MIB, size: MIB },
  { op: 'out', port: 0x80, size: 1, value: 7 }
]

void t.test('a 1 MiB access does not run in one slice: work is counted per page, at most about the budget', async t => {
  const vm = fragmented([{ op: 'read', gpa: 0, size: MIB }])
  const r = vm.run(0, 64)
  t.same(r, { kind: 'yield' }, 'the budget ran out inside the access')
  t.equal(vm.vcpu(0).counters.accesses, 0, 'the access has not completed')
  let runs = 1
  while (vm.run(0, 64).kind === 'yield') runs++
  // 256 pages checked + 256 populated = 512 units; 64 per run.
  t.ok(runs >= 8, `${runs} runs of 64 units`)
  t.equal(vm.vcpu(0).counters.accesses, 1)
  t.same(vm.backing(0, MIB).map(e => e.shared_populated || e.private_populated), new Array(256).fill(true), 'every page populated, with its own attribute')
})

void t.test('the same exits and memory whatever the budget per run', async t => {
  const straight = drain(fragmented(PROGRAM), 1_000_000)
  t.ok(straight.exits.length > 0)
  for (const budget of [1, 2, 3, 17, 64, 500]) {
    const sliced = drain(fragmented(PROGRAM), budget)
    t.equal(JSON.stringify(sliced.exits), JSON.stringify(straight.exits), `budget ${budget}`)
    t.same(sliced.vm.backing(), straight.vm.backing(), `budget ${budget}: same memory`)
    t.same(sliced.vm.vcpus(), straight.vm.vcpus())
  }
})

void t.test('a vCPU stopped mid-access round-trips through a snapshot and resumes exactly there', async t => {
  const straight = drain(fragmented(PROGRAM), 1_000_000)
  let midAccess = 0
  const swapped = drain(fragmented(PROGRAM), 37, (vm, runs) => {
    if (runs % 5 !== 0) return vm
    const s = vm.snapshot()
    const part = (s.state as { vcpus: Array<{ part: number }> }).vcpus[0]!.part
    if (part > 0) midAccess++
    return roundTrip(vm)
  })
  t.ok(midAccess > 3, `${midAccess} snapshots taken inside an access`)
  t.equal(JSON.stringify(swapped.exits), JSON.stringify(straight.exits))
  t.same(swapped.vm.backing(), straight.vm.backing())
})

void t.test('an interrupt waits for the access in progress to finish', async t => {
  const vm = fragmented([{ op: 'read', gpa: 0, size: MIB }, { op: 'hlt' }])
  t.same(vm.run(0, 10), { kind: 'yield' })
  vm.injectInterrupt(0)
  t.same(vm.run(0, 10), { kind: 'yield' })
  t.equal(vm.vcpu(0).counters.interrupts, 0, 'not taken inside the access')
  while (vm.run(0, 10).kind === 'yield');
  t.equal(vm.vcpu(0).counters.accesses, 1)
})

void t.test('a snapshot with a malformed part is refused; one without part (older) restores', async t => {
  const vm = fragmented([{ op: 'read', gpa: 0, size: MIB }])
  const s = JSON.parse(JSON.stringify(vm.snapshot())) as VmSnapshot & { state: { vcpus: Array<{ part?: unknown }> } }
  s.state.vcpus[0]!.part = -1
  t.throws(() => Vm.restore(s), { code: 'INVALID_CONFIG' })
  delete s.state.vcpus[0]!.part
  const old = Vm.restore(s)
  while (old.run(0, 1000).kind === 'yield');
  t.equal(old.vcpu(0).counters.accesses, 1)
})

// Every guest op, and the vCPU's run/pending rules (docs/spec/kvm-abi.md section 2).
import t from 'tap'
import { KVM_MEMORY_EXIT_FLAG_PRIVATE as FLAG_PRIVATE, KVM_SYSTEM_EVENT_CRASH } from '../../src/kvm/index.js'
import { MIB, mustExit, nextExit, PAGE, vmWith } from './helpers/vm.js'

const NOSLOT = 32 * MIB

void t.test('op read/write: one access through the fault path (default size 8)', async t => {
  const vm = vmWith([{ op: 'read', gpa: 0 }, { op: 'write', gpa: PAGE - 8 }, { op: 'write', gpa: PAGE - 4 }], { type: 'tdx' })
  t.equal(nextExit(vm), null)
  t.equal(vm.vcpu(0).counters.accesses, 3)
})

void t.test('op sweep: touches every stride of the range (default stride 4096)', async t => {
  const vm = vmWith([{ op: 'sweep', gpa: 0, size: 10 * PAGE, access: 'write' }, { op: 'sweep', gpa: 0, size: PAGE, stride: 512 }], { type: 'tdx' })
  t.equal(nextExit(vm), null)
  t.equal(vm.vcpu(0).counters.accesses, 10 + 8)
  t.match(vm.backing(0, 11 * PAGE), [{ size: 10 * PAGE, private_populated: true }, { private_populated: false }])
  const f = vmWith([{ op: 'sweep', gpa: 0, size: 4 * PAGE, private: false }], { type: 'tdx' })
  const e = mustExit(f)
  t.match(e, { memory_fault: { gpa: 0, flags: 0 } })
  f.decide(0, e.exit, { action: 'convert' })
  t.match(mustExit(f), { memory_fault: { gpa: PAGE } }, 'the sweep continues where it faulted')
})

void t.test('op map_gpa: per VM type (KVM_HC_MAP_GPA_RANGE, TDX MapGPA, SNP PSC)', async t => {
  for (const type of ['default', 'sw_protected', 'tdx', 'snp'] as const) {
    const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type })
    t.match(mustExit(vm), { reason: 'KVM_EXIT_HYPERCALL', hypercall: { nr: 12, args: [0, 1] } }, type)
  }
})

void t.test('op out: KVM_EXIT_IO direction OUT, count 1, data [value]; in: direction IN, data placeholder, completed with data', async t => {
  const vm = vmWith([{ op: 'out', port: 0x3f8, size: 1, value: 65 }, { op: 'in', port: 0x60, size: 2 }], { type: 'tdx' })
  const o = mustExit(vm)
  t.same(o, { exit: 1, vcpu: 0, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 1, size: 1, port: 0x3f8, count: 1, data: [65] } })
  vm.decide(0, o.exit, { action: 'resume' })
  const i = mustExit(vm)
  t.same(i.io, { direction: 0, size: 2, port: 0x60, count: 1, data: [0] })
  t.throws(() => vm.decide(0, i.exit, { action: 'resume', data: [0x10000] }), { code: 'INVALID_ACTION' }, 'value too big for 2 bytes')
  t.throws(() => vm.decide(0, i.exit, { action: 'resume', data: [1, 2] }), { code: 'INVALID_ACTION' }, 'count is 1')
  vm.decide(0, i.exit, { action: 'resume', data: [0xffff] })
  t.equal(nextExit(vm), null)
})

void t.test('op mmio_read/mmio_write: KVM_EXIT_MMIO at a gpa with no memslot; on a memslot it is an ordinary access', async t => {
  const vm = vmWith([{ op: 'mmio_write', gpa: NOSLOT, len: 4, value: 0x01020304 }, { op: 'mmio_read', gpa: NOSLOT + 8, len: 2 }, { op: 'mmio_read', gpa: 0, len: 8 }], { type: 'sw_protected', initial_attributes: 'shared' })
  const w = mustExit(vm)
  t.same(w.mmio, { phys_addr: NOSLOT, len: 4, is_write: true, data: [4, 3, 2, 1] }, 'little-endian value')
  vm.decide(0, w.exit, { action: 'resume' })
  const r = mustExit(vm)
  t.same(r.mmio, { phys_addr: NOSLOT + 8, len: 2, is_write: false, data: [0, 0] })
  t.throws(() => vm.decide(0, r.exit, { action: 'resume', data: [1] }), { code: 'INVALID_ACTION' }, 'len bytes')
  t.throws(() => vm.decide(0, r.exit, { action: 'resume', data: [1, 256] }), { code: 'INVALID_ACTION' }, 'bytes')
  vm.decide(0, r.exit, { action: 'resume', data: [1, 2] })
  t.equal(nextExit(vm), null, 'mmio_read on a memslot is an ordinary access')
  t.equal(vm.vcpu(0).counters.accesses, 1)
  const tdx = vmWith([{ op: 'mmio_read', gpa: NOSLOT, len: 1 }], { type: 'tdx' })
  t.same(mustExit(tdx).mmio?.phys_addr, NOSLOT, 'TDX: a shared access, shared bit stripped from phys_addr')
})

void t.test('op hlt: KVM_EXIT_HLT; resume continues', async t => {
  const vm = vmWith([{ op: 'hlt' }, { op: 'hlt' }], { type: 'tdx' })
  const e = mustExit(vm)
  t.same(e, { exit: 1, vcpu: 0, reason: 'KVM_EXIT_HLT', exit_reason: 5, run: { ret: 0 } })
  vm.decide(0, e.exit, { action: 'resume' })
  t.match(mustExit(vm), { exit: 2, reason: 'KVM_EXIT_HLT' })
})

void t.test('op shutdown: KVM_EXIT_SHUTDOWN with no payload; resume means reset', async t => {
  const vm = vmWith([{ op: 'shutdown' }], { type: 'snp' })
  const e = mustExit(vm)
  t.same(e, { exit: 1, vcpu: 0, reason: 'KVM_EXIT_SHUTDOWN', exit_reason: 8, run: { ret: 0 } })
  t.same(vm.decide(0, e.exit, { action: 'resume' }), { vm: 'reset' })
})

void t.test('op panic: SYSTEM_EVENT CRASH, ndata 0; cannot be resumed', async t => {
  const vm = vmWith([{ op: 'panic' }], { type: 'default' })
  const e = mustExit(vm)
  t.same(e, { exit: 1, vcpu: 0, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: KVM_SYSTEM_EVENT_CRASH, ndata: 0, data: [] } })
  t.throws(() => vm.decide(0, e.exit, { action: 'resume' }), { code: 'INVALID_ACTION' })
  t.same(vm.decide(0, e.exit, { action: 'kill' }), { vm: 'kill' })
  t.equal(vm.vcpu(0).state, 'halted')
})

void t.test('op repeat: count and forever, nested', async t => {
  const vm = vmWith([{ op: 'repeat', count: 3, body: [{ op: 'repeat', count: 2, body: [{ op: 'read', gpa: 0 }] }, { op: 'write', gpa: 0 }] }], { type: 'tdx' })
  t.equal(nextExit(vm), null)
  t.equal(vm.vcpu(0).counters.accesses, 9)
  const f = vmWith([{ op: 'repeat', forever: true, body: [{ op: 'read', gpa: 0 }] }], { type: 'tdx' })
  t.same(f.run(0, 1000), { kind: 'yield' }, 'budget spent, still going')
  // Work units: 2 per one-page read (checked, populated), 1 per loop op.
  t.ok(f.vcpu(0).counters.accesses >= 300)
})

void t.test('op random: seeded accesses and one-page conversions within the range', async t => {
  const prog = [{ op: 'random' as const, count: 200, gpa: 0, size: 64 * PAGE, private_ratio: 0.5, write_ratio: 0.5, map_ratio: 0.2 }]
  const vm = vmWith(prog, { type: 'tdx' })
  let maps = 0
  let faults = 0
  for (let e = nextExit(vm); e !== null; e = nextExit(vm)) {
    if (e.reason === 'KVM_EXIT_HYPERCALL') {
      maps++
      t.equal(e.hypercall!.args[1], 1)
      t.ok(e.hypercall!.args[0]! < 64 * PAGE && e.hypercall!.args[0]! % PAGE === 0)
    } else {
      faults++
      t.ok(e.memory_fault!.gpa < 64 * PAGE)
    }
    vm.decide(0, e.exit, { action: 'convert' })
  }
  t.ok(maps > 10 && maps < 80, `map_ratio 0.2: ${maps} conversions`)
  t.ok(faults > 0)
  t.equal(vm.vcpu(0).counters.accesses, 200 - maps, 'each non-map iteration completes one access')
})

void t.test('op pv_access: a suppressed fault leaves memory_fault on the next exit (run.ret 0); a genuine fault replaces it', async t => {
  const vm = vmWith([{ op: 'pv_access', gpa: 0, private: false }, { op: 'hlt' }, { op: 'hlt' }], { type: 'tdx' })
  const e = mustExit(vm)
  t.same(e, { exit: 1, vcpu: 0, reason: 'KVM_EXIT_HLT', exit_reason: 5, run: { ret: 0 }, memory_fault: { flags: 0, gpa: 0, size: PAGE } }, 'stale beside HLT')
  vm.decide(0, e.exit, { action: 'resume' })
  t.notOk('memory_fault' in mustExit(vm), 'cleared after')
  const g = vmWith([{ op: 'pv_access', gpa: 0, private: false }, { op: 'read', gpa: 2 * PAGE, private: false }], { type: 'tdx' })
  t.match(mustExit(g), { run: { ret: -1 }, memory_fault: { gpa: 2 * PAGE, flags: 0 } }, 'the genuine fault wins')
  const ok = vmWith([{ op: 'pv_access', gpa: 0 }, { op: 'pv_access', gpa: NOSLOT + (2 ** 47) }, { op: 'hlt' }], { type: 'tdx' })
  t.notOk('memory_fault' in mustExit(ok), 'a completed or an MMIO pv access leaves nothing')
  t.equal(ok.vcpu(0).counters.accesses, 1)
})

void t.test('per-vCPU addresses: gpa + vcpu * vcpu_stride', async t => {
  const vm = vmWith([{ op: 'read', gpa: 0, vcpu_stride: MIB, private: false }], { type: 'tdx', vcpus: 3 })
  t.same([0, 1, 2].map(v => mustExit(vm, v).memory_fault?.gpa), [0, MIB, 2 * MIB])
  t.same(vm.pendingExits().map(e => e.vcpu), [0, 1, 2], 'oldest first')
})

void t.test('§2 one pending exit per vCPU: while pending, run returns pending and does nothing; the program ending halts', async t => {
  const vm = vmWith([{ op: 'hlt' }, { op: 'read', gpa: 0 }], { type: 'tdx' })
  const e = mustExit(vm)
  t.same(vm.run(0, 100), { kind: 'pending' })
  t.same(vm.vcpu(0), { id: 0, state: 'exit_pending', pending_exit: 1, counters: { accesses: 0, exits: 1, hypercall_errors: 0, machine_checks: 0, interrupts: 0 } })
  vm.decide(0, e.exit, { action: 'resume' })
  t.equal(vm.vcpu(0).state, 'runnable', 'not pending right away')
  t.same(vm.pendingExits(), [])
  t.same(vm.run(0, 100), { kind: 'halted' })
  t.same(vm.run(0, 100), { kind: 'halted' })
  t.equal(vm.vcpu(0).counters.accesses, 1)
  const y = vmWith([{ op: 'read', gpa: 0 }, { op: 'read', gpa: 0 }], { type: 'tdx' })
  t.same(y.run(0, 1), { kind: 'yield' }, 'budget 1: one step')
  t.equal(y.vcpu(0).counters.accesses, 1)
  t.same(vmWith([]).run(0, 10), { kind: 'halted' }, 'an empty program halts')
})

void t.test('interrupts: taken at the next instruction boundary, counted', async t => {
  const vm = vmWith([{ op: 'hlt' }, { op: 'read', gpa: 0 }], { type: 'tdx' })
  const e = mustExit(vm)
  vm.injectInterrupt(0)
  vm.decide(0, e.exit, { action: 'resume' })
  t.equal(nextExit(vm), null)
  t.equal(vm.vcpu(0).counters.interrupts, 1)
})

void t.test('exit ids are per VM from 1 across vCPUs', async t => {
  const vm = vmWith([{ op: 'hlt' }], { type: 'tdx', vcpus: 2 })
  t.equal(mustExit(vm, 1).exit, 1)
  t.equal(mustExit(vm, 0).exit, 2)
  t.throws(() => vm.run(2, 1), { code: 'VCPU_NOT_FOUND' })
  t.throws(() => vm.run(0, -1), { code: 'INVALID_ARGUMENT' })
})

void t.test('§4 a private access with flags PRIVATE on a TDX guest converted, then re-executed, completes', async t => {
  const vm = vmWith([{ op: 'write', gpa: 0 }], { type: 'tdx', initial_attributes: 'shared' })
  const e = mustExit(vm)
  t.equal(e.memory_fault?.flags, FLAG_PRIVATE)
  vm.decide(0, e.exit, { action: 'convert' })
  t.equal(nextExit(vm), null)
})

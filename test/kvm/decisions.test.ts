// docs/spec/kvm-abi.md section 6 and the contract's decision semantics.
import t from 'tap'
import {
  isTerminalSystemEvent, KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN,
  KVM_SYSTEM_EVENT_SEV_TERM, KVM_SYSTEM_EVENT_TDX_FATAL, KVM_SYSTEM_EVENT_WAKEUP
} from '../../src/kvm/index.js'
import { systemEventExit, hltExit } from '../../src/kvm/exit-record.js'
import { planDecision } from '../../src/kvm/vcpu/decide.js'
import { mustExit, nextExit, PAGE, vmWith } from './helpers/vm.js'

void t.test('a decision needs the pending exit id: EXIT_NOT_PENDING otherwise; nothing is applied twice', async t => {
  const vm = vmWith([{ op: 'read', gpa: 0, private: false }], { type: 'tdx' })
  const e = mustExit(vm)
  t.throws(() => vm.decide(0, e.exit + 1, { action: 'resume' }), { code: 'EXIT_NOT_PENDING' })
  vm.decide(0, e.exit, { action: 'convert' })
  t.throws(() => vm.decide(0, e.exit, { action: 'convert' }), { code: 'EXIT_NOT_PENDING' }, 'already decided')
  t.throws(() => vm.decide(5, e.exit, { action: 'resume' }), { code: 'VCPU_NOT_FOUND' })
})

void t.test('§6 MEMORY_FAULT/EFAULT convert: sets [gpa, gpa+size) to what flags asks, discards the old backing, re-executes the access', async t => {
  const vm = vmWith([{ op: 'write', gpa: 0 }, { op: 'write', gpa: 0, private: false }, { op: 'hlt' }], { type: 'tdx' })
  const e = mustExit(vm)
  t.same(e.memory_fault, { flags: 0, gpa: 0, size: PAGE })
  t.match(vm.backing(0, PAGE), [{ private_populated: true }])
  t.same(vm.decide(0, e.exit, { action: 'convert' }), { vm: 'continue' })
  t.same(vm.memoryAttributes(0, PAGE), [{ gpa: 0, size: PAGE, attributes: 0 }], 'converted at decide time (the VMM ioctl)')
  t.match(vm.backing(0, PAGE), [{ private_populated: false, shared_populated: false }], 'guest_memfd hole punched')
  t.match(mustExit(vm), { reason: 'KVM_EXIT_HLT' })
  t.match(vm.backing(0, PAGE), [{ shared_populated: true }])
  t.equal(vm.vcpu(0).counters.accesses, 2)
})

void t.test('§6 MEMORY_FAULT resumed without converting faults again (a new exit)', async t => {
  const vm = vmWith([{ op: 'read', gpa: PAGE, private: false }], { type: 'snp' })
  const e1 = mustExit(vm)
  vm.decide(0, e1.exit, { action: 'resume' })
  const e2 = mustExit(vm)
  t.equal(e2.exit, e1.exit + 1)
  t.same(e2.memory_fault, e1.memory_fault)
})

void t.test('§6 EHWPOISON: convert refused; a plain resume faults again (kvm_gmem_get_pfn); resume with inject "mce" abandons the access', async t => {
  const vm = vmWith([{ op: 'read', gpa: 0 }, { op: 'hlt' }], { type: 'tdx' })
  vm.poison(0)
  const e = mustExit(vm)
  t.match(e, { run: { ret: -1, errno: 'EHWPOISON' } })
  t.throws(() => vm.decide(0, e.exit, { action: 'convert' }), { code: 'INVALID_ACTION', message: /EHWPOISON/ })
  t.throws(() => vm.decide(0, e.exit, { action: 'resume', inject: 'nmi' } as never), { code: 'INVALID_ACTION', message: /inject/ })
  vm.decide(0, e.exit, { action: 'resume' })
  const again = mustExit(vm)
  t.same({ ...again, exit: e.exit }, e, 'the same EHWPOISON fault, a new exit id')
  t.equal(vm.vcpu(0).counters.machine_checks, 0)
  vm.decide(0, again.exit, { action: 'resume', inject: 'mce' })
  t.match(mustExit(vm), { reason: 'KVM_EXIT_HLT' })
  t.equal(vm.vcpu(0).counters.machine_checks, 1)
  t.equal(vm.vcpu(0).counters.accesses, 0)
})

void t.test('§6 inject "mce" is refused on every exit but an EHWPOISON memory fault; the exit stays pending', async t => {
  const efault = vmWith([{ op: 'read', gpa: 0, private: false }], { type: 'tdx' })
  const f = mustExit(efault)
  t.throws(() => efault.decide(0, f.exit, { action: 'resume', inject: 'mce' }), { code: 'INVALID_ACTION', message: /EHWPOISON/ }, 'EFAULT')
  t.same(efault.pendingExits().map(x => x.exit), [f.exit])
  const hlt = vmWith([{ op: 'hlt' }], { type: 'tdx' })
  t.throws(() => hlt.decide(0, mustExit(hlt).exit, { action: 'resume', inject: 'mce' }), { code: 'INVALID_ACTION' }, 'HLT')
})

void t.test('§6 convert is refused on anything but MEMORY_FAULT/EFAULT and MAP_GPA_RANGE; the exit stays pending', async t => {
  const vm = vmWith([{ op: 'out', port: 1, size: 1, value: 1 }], { type: 'tdx' })
  const e = mustExit(vm)
  t.throws(() => vm.decide(0, e.exit, { action: 'convert' }), { code: 'INVALID_ACTION' })
  t.same(vm.pendingExits().map(x => x.exit), [e.exit])
  t.throws(() => vm.decide(0, e.exit, { action: 'bogus' } as never), { code: 'INVALID_ACTION' })
  t.throws(() => vm.decide(0, e.exit, null as never), { code: 'INVALID_ACTION' })
})

void t.test('§6 resume fields: ret only for hypercalls (default 0, a safe integer); data only for IN / MMIO reads', async t => {
  const vm = vmWith([{ op: 'out', port: 1, size: 1, value: 1 }, { op: 'map_gpa', gpa: 0, npages: 1, private: true }], { type: 'sw_protected', initial_attributes: 'shared' })
  const o = mustExit(vm)
  t.throws(() => vm.decide(0, o.exit, { action: 'resume', ret: 1 }), { code: 'INVALID_ACTION' })
  t.throws(() => vm.decide(0, o.exit, { action: 'resume', data: [1] }), { code: 'INVALID_ACTION' })
  vm.decide(0, o.exit, { action: 'resume' })
  const h = mustExit(vm)
  t.throws(() => vm.decide(0, h.exit, { action: 'resume', ret: 1.5 }), { code: 'INVALID_ACTION' })
  vm.decide(0, h.exit, { action: 'resume' })
  t.equal(nextExit(vm), null)
  t.same(vm.lastHypercall(0), { ret: 0 }, 'default ret 0')
  t.same(vm.memoryAttributes(0, PAGE), [{ gpa: 0, size: PAGE, attributes: 0 }], 'resume converts nothing')
})

void t.test('§6 HYPERCALL convert: the range from args (ENCRYPTED bit) becomes private/shared, then ret 0', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 4, private: true }], { type: 'sw_protected', initial_attributes: 'shared' })
  const e = mustExit(vm)
  vm.decide(0, e.exit, { action: 'convert' })
  t.same(vm.memoryAttributes(0, 8 * PAGE), [{ gpa: 0, size: 4 * PAGE, attributes: PRIVATE }, { gpa: 4 * PAGE, size: 4 * PAGE, attributes: 0 }])
})

void t.test('§6 kill: outcome kill, the exit is consumed', async t => {
  const vm = vmWith([{ op: 'hlt' }], { type: 'tdx' })
  const e = mustExit(vm)
  t.same(vm.decide(0, e.exit, { action: 'kill' }), { vm: 'kill' })
  t.same(vm.pendingExits(), [])
  t.same(vm.run(0, 10), { kind: 'halted' })
})

void t.test('§6 SYSTEM_EVENT: SHUTDOWN/RESET resume → reset; CRASH/SEV_TERM/TDX_FATAL refused; others continue', async t => {
  for (const type of [KVM_SYSTEM_EVENT_SHUTDOWN, KVM_SYSTEM_EVENT_RESET]) {
    t.same(planDecision(systemEventExit(1, 0, type, []), false, { action: 'resume' }).outcome, { vm: 'reset' })
  }
  for (const type of [3, KVM_SYSTEM_EVENT_SEV_TERM, KVM_SYSTEM_EVENT_TDX_FATAL]) {
    t.ok(isTerminalSystemEvent(systemEventExit(1, 0, type, [])))
    t.throws(() => planDecision(systemEventExit(1, 0, type, []), false, { action: 'resume' }), { code: 'INVALID_ACTION' })
  }
  t.same(planDecision(systemEventExit(1, 0, KVM_SYSTEM_EVENT_WAKEUP, []), false, { action: 'resume' }).outcome, { vm: 'continue' })
  t.notOk(isTerminalSystemEvent(hltExit(1, 0)))
  t.notOk(isTerminalSystemEvent(systemEventExit(1, 0, KVM_SYSTEM_EVENT_SHUTDOWN, [])))
})

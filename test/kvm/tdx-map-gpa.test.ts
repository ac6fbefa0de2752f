// docs/spec/kvm-abi.md section 5, TDX MapGPA (vmx/tdx.c tdx_map_gpa, __tdx_map_gpa, tdx_complete_vmcall_map_gpa;
// the Linux guest's tdx_map_gpa).
import t from 'tap'
import {
  EAGAIN, EINVAL, KVM_MAP_GPA_RANGE_ENCRYPTED as ENC, KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE, KVM_SYSTEM_EVENT_TDX_FATAL,
  TDVMCALL_STATUS_ALIGN_ERROR, TDVMCALL_STATUS_INVALID_OPERAND, TDVMCALL_STATUS_RETRY, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED
} from '../../src/kvm/index.js'
import { TdxMapGpa, tdvmcallStatusCode } from '../../src/kvm/hypercall/tdx-map-gpa.js'
import { MIB, nextExit, PAGE, vmWith } from './helpers/vm.js'

const SHARED = 2 ** 47
const code = tdvmcallStatusCode

const fatal = (status: bigint) => {
  const data = new Array(16).fill(0)
  data[0] = code(status)
  return { reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: KVM_SYSTEM_EVENT_TDX_FATAL, ndata: 16, data } }
}

void t.test('TDVMCALL status codes fold into safe integers (bit 63 → bit 32)', async t => {
  t.equal(code(0n), 0)
  t.equal(code(TDVMCALL_STATUS_RETRY), 1)
  t.equal(code(TDVMCALL_STATUS_INVALID_OPERAND), 2 ** 32)
  t.equal(code(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED), 2 ** 32 + 3, '0x8000000000000003 (asm/shared/tdx.h)')
  t.equal(code(TDVMCALL_STATUS_ALIGN_ERROR), 2 ** 32 + 2)
})

void t.test('§5 TDX: KVM splits MapGPA into chunks of at most 2 MiB, one exit each, shared bit stripped from args[0]', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: MIB, npages: 1280, private: false }], { type: 'tdx' })
  const chunks: number[][] = []
  for (let e = nextExit(vm); e !== null; e = nextExit(vm)) {
    t.match(e, { reason: 'KVM_EXIT_HYPERCALL', run: { ret: 0 }, hypercall: { nr: 12, ret: 0, flags: 1 } })
    chunks.push(e.hypercall!.args)
    vm.decide(0, e.exit, { action: 'convert' })
  }
  t.same(chunks, [[MIB, 512, 0, 0, 0, 0], [3 * MIB, 512, 0, 0, 0, 0], [5 * MIB, 256, 0, 0, 0, 0]], 'r13 = 5 MiB: 2 + 2 + 1')
  t.same(vm.memoryAttributes(MIB, 5 * MIB), [{ gpa: MIB, size: 5 * MIB, attributes: 0 }])
  t.same(vm.lastHypercall(0), { ret: 0 }, 'SUCCESS; r11 not written')
  const back = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: true }], { type: 'tdx', initial_attributes: 'shared' })
  t.match(nextExit(back), { hypercall: { args: [0, 1, ENC, 0, 0, 0] } }, 'private direction: ENCRYPTED')
})

void t.test('§5 TDX: hypercall exit disabled → SUBFUNC_UNSUPPORTED; the Linux guest reports a fatal error (TDX_FATAL, ndata 16)', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type: 'tdx', hypercall_exit: false })
  t.match(nextExit(vm), fatal(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED))
  t.equal(vm.vcpu(0).counters.hypercall_errors, 1)
  t.same(vm.lastHypercall(0), { ret: code(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED), r11: SHARED }, 'tdx_map_gpa error path: r11 = r12 (shared bit included)')
})

void t.test('§5 TDX: a range straddling the shared bit → INVALID_OPERAND (r11 = the gpa)', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: SHARED - PAGE, npages: 2, private: true }], { type: 'tdx' })
  t.match(nextExit(vm), fatal(TDVMCALL_STATUS_INVALID_OPERAND))
  t.same(vm.lastHypercall(0), { ret: code(TDVMCALL_STATUS_INVALID_OPERAND), r11: SHARED - PAGE })
  const beyond = vmWith([{ op: 'map_gpa', gpa: SHARED - PAGE, npages: 2, private: false }], { type: 'tdx' })
  t.match(nextExit(beyond), fatal(TDVMCALL_STATUS_INVALID_OPERAND), 'gpa + size - 1 beyond GPAW')
})

void t.test('§5 TDX: an unaligned gpa → ALIGN_ERROR', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 100, npages: 1, private: true }], { type: 'tdx' })
  t.match(nextExit(vm), fatal(TDVMCALL_STATUS_ALIGN_ERROR))
  t.same(vm.lastHypercall(0), { ret: code(TDVMCALL_STATUS_ALIGN_ERROR), r11: 100 })
})

void t.test('§5 TDX: ret EINVAL ends the call with INVALID_OPERAND and r11 = the failing chunk; earlier chunks stay converted', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1024, private: false }], { type: 'tdx' })
  const e1 = nextExit(vm)!
  vm.decide(0, e1.exit, { action: 'convert' })
  const e2 = nextExit(vm)!
  t.equal(e2.hypercall!.args[0], 2 * MIB)
  vm.decide(0, e2.exit, { action: 'resume', ret: EINVAL })
  t.match(nextExit(vm), fatal(TDVMCALL_STATUS_INVALID_OPERAND))
  t.same(vm.lastHypercall(0), { ret: code(TDVMCALL_STATUS_INVALID_OPERAND), r11: 2 * MIB + SHARED }, 'r11 carries the shared bit, as map_gpa_next does')
  t.same(vm.memoryAttributes(0, 4 * MIB), [{ gpa: 0, size: 2 * MIB, attributes: 0 }, { gpa: 2 * MIB, size: 2 * MIB, attributes: PRIVATE }])
  t.throws(() => vm.decide(0, vm.pendingExits()[0]!.exit, { action: 'resume' }), { code: 'INVALID_ACTION' }, 'TDX_FATAL cannot be resumed')
  t.same(vm.decide(0, vm.pendingExits()[0]!.exit, { action: 'kill' }), { vm: 'kill' })
})

void t.test('§5 TDX: an interrupt pending between chunks → RETRY with r11 = next gpa; the guest takes it and calls again from there', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1536, private: false }, { op: 'hlt' }], { type: 'tdx' })
  const e1 = nextExit(vm)!
  vm.decide(0, e1.exit, { action: 'convert' })
  vm.injectInterrupt(0)
  const e2 = nextExit(vm)!
  t.same(e2.hypercall!.args.slice(0, 2), [2 * MIB, 512], 'the new call starts at r11')
  t.equal(vm.vcpu(0).counters.interrupts, 1, 'the guest took the interrupt')
  vm.decide(0, e2.exit, { action: 'convert' })
  const e3 = nextExit(vm)!
  t.same(e3.hypercall!.args.slice(0, 2), [4 * MIB, 512])
  vm.decide(0, e3.exit, { action: 'convert' })
  t.match(nextExit(vm), { reason: 'KVM_EXIT_HLT' })
  t.equal(vm.vcpu(0).counters.hypercall_errors, 0)
})

void t.test('Linux tdx_map_gpa: RETRY with r11 outside [start, end) or 3 retries without progress fail the conversion', async t => {
  const host = { hypercallExit: true, kvmAbi: 'next' as const, pending: true, interruptPending () { return this.pending }, takeInterrupt () {} }
  const tdx = new TdxMapGpa(host, SHARED, 48)
  const { state } = tdx.begin(0, 1024, true)
  // A VMM that keeps answering success while an interrupt stays pending: RETRY each time with progress.
  const r = tdx.complete(state, 0)
  t.match(r, { t: 'exit', gpa: 2 * MIB }, 'progress: the guest calls again')
  t.equal(state.retries, 0)
  const priv = tdx as unknown as { guestSees: (s: typeof state, st: bigint, r11: number) => unknown }
  t.match(priv.guestSees(state, TDVMCALL_STATUS_RETRY, 0), { t: 'fatal' }, 'r11 below start')
  const s2 = tdx.begin(0, 1024, true).state
  t.match(priv.guestSees(s2, TDVMCALL_STATUS_RETRY, 0), { t: 'exit' }, 'no progress: retry 1')
  t.match(priv.guestSees(s2, TDVMCALL_STATUS_RETRY, 0), { t: 'exit' }, 'retry 2')
  t.match(priv.guestSees(s2, TDVMCALL_STATUS_RETRY, 0), { t: 'fatal', data: [1] }, 'the third gives up')
})

void t.test('kvm_abi "next": ret EAGAIN is RETRY with r11 = map_gpa_next; the Linux guest calls again from there', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1024, private: false }, { op: 'hlt' }], { type: 'tdx' })
  const e1 = nextExit(vm)!
  vm.decide(0, e1.exit, { action: 'convert' })
  const e2 = nextExit(vm)!
  vm.decide(0, e2.exit, { action: 'resume', ret: EAGAIN })
  const e3 = nextExit(vm)!
  t.same(e3.hypercall!.args.slice(0, 2), [2 * MIB, 512], 'the new call starts at r11 (map_gpa_next, not advanced)')
  vm.decide(0, e3.exit, { action: 'convert' })
  t.match(nextExit(vm), { reason: 'KVM_EXIT_HLT' })
  t.equal(vm.vcpu(0).counters.hypercall_errors, 0)
  t.same(vm.memoryAttributes(0, 4 * MIB), [{ gpa: 0, size: 4 * MIB, attributes: 0 }])
})

void t.test('kvm_abi "next": EAGAIN three times without progress makes the Linux guest give up', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type: 'tdx' })
  for (let i = 0; i < 3; i++) vm.decide(0, nextExit(vm)!.exit, { action: 'resume', ret: EAGAIN })
  t.match(nextExit(vm), fatal(TDVMCALL_STATUS_RETRY))
})

void t.test('kvm_abi "next": any ret but 0, EAGAIN, EINVAL is refused (KVM_RUN EINVAL); "6.19" makes it INVALID_OPERAND, EAGAIN too', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type: 'tdx' })
  const e = nextExit(vm)!
  for (const ret of [1, -22, 2 ** 40]) {
    t.throws(() => vm.decide(0, e.exit, { action: 'resume', ret }), { code: 'INVALID_ACTION', errno: 'EINVAL' }, `ret ${ret}`)
  }
  t.same(vm.pendingExits().map(x => x.exit), [e.exit], 'nothing changed')
  for (const ret of [1, EAGAIN]) {
    const old = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type: 'tdx', kvm_abi: '6.19' })
    old.decide(0, nextExit(old)!.exit, { action: 'resume', ret })
    t.match(nextExit(old), fatal(TDVMCALL_STATUS_INVALID_OPERAND), `6.19, ret ${ret}`)
    t.same(old.lastHypercall(0), { ret: code(TDVMCALL_STATUS_INVALID_OPERAND), r11: SHARED })
  }
  const plain = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type: 'sw_protected' })
  plain.decide(0, nextExit(plain)!.exit, { action: 'resume', ret: 7 })
  t.equal(nextExit(plain), null, 'KVM_HC_MAP_GPA_RANGE (x86.c complete_hypercall_exit) passes any ret to RAX')
  t.same(plain.lastHypercall(0), { ret: 7 })
})

void t.test('kvm_abi is validated: "6.19" or "next", default "next"', async t => {
  t.equal(vmWith([], { type: 'tdx' }).config.kvm_abi, 'next')
  t.throws(() => vmWith([], { type: 'tdx', kvm_abi: '6.1' as never }), { code: 'INVALID_CONFIG', errno: 'EINVAL', message: /kvm_abi/ })
})

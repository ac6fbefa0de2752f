// docs/spec/kvm-abi.md section 5: KVM_HC_MAP_GPA_RANGE on DEFAULT and SW_PROTECTED VMs (x86.c kvm_emulate_hypercall).
import t from 'tap'
import { KVM_EINVAL, KVM_ENOSYS, KVM_MAP_GPA_RANGE_ENCRYPTED as ENC, KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE } from '../../src/kvm/index.js'
import { MAP_GPA_RANGE_GFN_LIMIT, mapGpaRangeBegin } from '../../src/kvm/hypercall/map-gpa-range.js'
import { MIB, nextExit, PAGE, vmWith } from './helpers/vm.js'

void t.test('§5 the exit: nr 12, args [gpa, npages, attrs, 0, 0, 0], flags LONG_MODE, ret pre-set 0, run.ret 0', async t => {
  for (const [pageSize, bits] of [['4k', 0], ['2m', 1], ['1g', 2]] as const) {
    const vm = vmWith([{ op: 'map_gpa', gpa: 4 * PAGE, npages: 3, private: true, page_size: pageSize }], { type: 'sw_protected' })
    t.same(nextExit(vm), {
      exit: 1, vcpu: 0, reason: 'KVM_EXIT_HYPERCALL', exit_reason: 3, run: { ret: 0 },
      hypercall: { nr: 12, args: [4 * PAGE, 3, ENC | bits, 0, 0, 0], ret: 0, flags: 1 }
    }, `page_size ${pageSize}: bits ${bits}`)
  }
  const shared = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type: 'default' })
  t.match(nextExit(shared), { hypercall: { args: [0, 1, 0, 0, 0, 0] } }, 'DECRYPTED is 0; default VMs make the call too')
})

void t.test('§5 KVM checks first with no exit: unaligned gpa → -KVM_EINVAL; the guest continues after the call', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 100, npages: 1, private: true }, { op: 'hlt' }], { type: 'sw_protected' })
  t.match(nextExit(vm), { reason: 'KVM_EXIT_HLT' }, 'no hypercall exit; the next op runs')
  t.same(vm.lastHypercall(0), { ret: -KVM_EINVAL })
  t.equal(vm.vcpu(0).counters.hypercall_errors, 1)
})

void t.test('§5 gfn + npages past 2^52 / 4096 is the wrap → -KVM_EINVAL (programs cannot reach it: validation caps ranges)', async t => {
  t.equal(MAP_GPA_RANGE_GFN_LIMIT, 2 ** 40)
  const host = { hypercallExit: true, kvmAbi: 'next' as const, interruptPending: () => false, takeInterrupt: () => {} }
  t.same(mapGpaRangeBegin(host, 2 ** 52 - PAGE, 2, true, '4k'), { t: 'done', error: true, ret: -KVM_EINVAL })
  t.same(mapGpaRangeBegin(host, 0, 0, true, '4k'), { t: 'done', error: true, ret: -KVM_EINVAL }, 'npages 0')
  t.match(mapGpaRangeBegin(host, 2 ** 52 - PAGE, 1, true, '4k'), { t: 'exit' }, 'the last page is fine')
  const vm = vmWith([{ op: 'map_gpa', gpa: 2 ** 52 - PAGE, npages: 1, private: true }], { type: 'sw_protected' })
  t.match(nextExit(vm), { hypercall: { args: [2 ** 52 - PAGE, 1] } })
})

void t.test('§5 hypercall exit disabled → -KVM_ENOSYS, checked before the argument checks', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 100, npages: 1, private: true }], { type: 'sw_protected', hypercall_exit: false })
  t.equal(nextExit(vm), null, 'no exit; the program ends')
  t.same(vm.lastHypercall(0), { ret: -KVM_ENOSYS })
  t.equal(vm.vcpu(0).counters.hypercall_errors, 1)
})

void t.test('§5 userspace writes ret: 0 = success; anything else is an error the guest sees in RAX and the guest continues', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 2, private: false }, { op: 'map_gpa', gpa: 0, npages: 2, private: false }], { type: 'sw_protected' })
  const e1 = nextExit(vm)!
  t.same(vm.decide(0, e1.exit, { action: 'resume', ret: -KVM_EINVAL }), { vm: 'continue' })
  t.same(vm.memoryAttributes(0, 2 * PAGE), [{ gpa: 0, size: 2 * PAGE, attributes: PRIVATE }], 'resume does not convert')
  const e2 = nextExit(vm)!
  t.same(vm.lastHypercall(0), { ret: -KVM_EINVAL })
  t.equal(vm.vcpu(0).counters.hypercall_errors, 1)
  vm.decide(0, e2.exit, { action: 'convert' })
  t.equal(nextExit(vm), null)
  t.same(vm.lastHypercall(0), { ret: 0 })
  t.same(vm.memoryAttributes(0, 2 * PAGE), [{ gpa: 0, size: 2 * PAGE, attributes: 0 }], 'convert set the range shared')
  t.equal(vm.vcpu(0).counters.hypercall_errors, 1)
})

void t.test('§5 KVM does not check the attribute bits; QEMU reads only ENCRYPTED (convert uses bit 4 alone)', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: MIB, npages: 512, private: false, page_size: '2m' }], { type: 'sw_protected' })
  const e = nextExit(vm)!
  t.equal(e.hypercall?.args[2], 1, 'PAGE_SZ_2M, DECRYPTED')
  vm.decide(0, e.exit, { action: 'convert' })
  t.same(vm.memoryAttributes(MIB, 2 * MIB), [{ gpa: MIB, size: 2 * MIB, attributes: 0 }])
})

void t.test('§5 convert to PRIVATE on a DEFAULT VM fails KVM_SET_MEMORY_ATTRIBUTES: INVALID_ACTION, nothing changed', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: true }], { type: 'default' })
  const e = nextExit(vm)!
  t.throws(() => vm.decide(0, e.exit, { action: 'convert' }), { code: 'INVALID_ACTION', errno: 'EINVAL' })
  t.equal(vm.pendingExits().length, 1, 'still pending')
  t.same(vm.decide(0, e.exit, { action: 'resume', ret: -1 }), { vm: 'continue' })
})

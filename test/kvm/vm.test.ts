// The Vm surface control/ uses: config validation, attribute and backing queries, vCPU info.
import t from 'tap'
import { Vm, KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE } from '../../src/kvm/index.js'
import { config, MIB, mustExit, PAGE, presetConfig, runAll, vmWith } from './helpers/vm.js'
import { PRESETS } from '../../src/kvm/program/presets/index.js'

void t.test('Vm.create validates the whole config (INVALID_CONFIG, EINVAL)', async t => {
  const bad = [
    { type: 'sev' as 'tdx' },
    { seed: 1.5 },
    { hypercall_exit: 'yes' as unknown as boolean },
    { initial_attributes: 'both' as 'private' },
    { memslots: 'none' as never }
  ]
  for (const b of bad) t.throws(() => Vm.create(config(b)), { code: 'INVALID_CONFIG' }, JSON.stringify(b))
  t.throws(() => Vm.create(null as never), { code: 'INVALID_CONFIG' })
  t.throws(() => Vm.create(config({ memslots: [null as never] })), { code: 'INVALID_CONFIG' })
  t.throws(() => Vm.create(config({ memslots: [{ slot: -1, gpa: 0, size: PAGE, guest_memfd: true }] })), { code: 'INVALID_CONFIG' })
  t.throws(() => Vm.create(config({ memslots: [{ slot: 0, gpa: -1, size: PAGE, guest_memfd: true }] })), { code: 'INVALID_CONFIG' })
  t.throws(() => Vm.create(config({ memslots: [{ slot: 0, gpa: 0, size: PAGE, guest_memfd: 1 as unknown as boolean }] })), { code: 'INVALID_CONFIG' })
  const vm = Vm.create(config({ vcpus: 3 }))
  t.equal(vm.vcpuCount, 3)
  t.equal(vm.config.type, 'tdx')
})

void t.test('memoryAttributes: whole 2^52 space by default, sorted, merged, gaps as 0', async t => {
  const vm = Vm.create(config({ type: 'sw_protected', memslots: [{ slot: 0, gpa: MIB, size: MIB, guest_memfd: true }] }))
  t.same(vm.memoryAttributes(), [
    { gpa: 0, size: MIB, attributes: 0 }, { gpa: MIB, size: MIB, attributes: PRIVATE }, { gpa: 2 * MIB, size: 2 ** 52 - 2 * MIB, attributes: 0 }
  ])
  t.same(vm.memoryAttributes(MIB + PAGE, PAGE), [{ gpa: MIB + PAGE, size: PAGE, attributes: PRIVATE }])
  t.throws(() => vm.memoryAttributes(1, PAGE), { code: 'INVALID_ARGUMENT', errno: 'EINVAL' })
  t.throws(() => vm.backing(0, 3), { code: 'INVALID_ARGUMENT', errno: 'EINVAL' })
})

void t.test('backing: attributes, populations and poison merged into extents (never pages)', async t => {
  const vm = vmWith([{ op: 'sweep', gpa: 0, size: 8 * MIB, access: 'write' }], { type: 'tdx' })
  t.same(vm.run(0, 1_000_000), { kind: 'halted' })
  vm.poison(4 * MIB)
  const b = vm.backing(0, 16 * MIB)
  t.same(b, [
    { gpa: 0, size: 4 * MIB, attributes: PRIVATE, shared_populated: false, private_populated: true, poisoned: false },
    { gpa: 4 * MIB, size: PAGE, attributes: PRIVATE, shared_populated: false, private_populated: false, poisoned: true },
    { gpa: 4 * MIB + PAGE, size: 4 * MIB - PAGE, attributes: PRIVATE, shared_populated: false, private_populated: true, poisoned: false },
    { gpa: 8 * MIB, size: 8 * MIB, attributes: PRIVATE, shared_populated: false, private_populated: false, poisoned: false }
  ])
  t.equal(vm.backing().length, 5, 'the rest of the space is one more extent')
})

void t.test('vcpus(), vcpu(), injectInterrupt() and pendingExits() across vCPUs', async t => {
  const vm = vmWith([{ op: 'hlt' }], { type: 'tdx', vcpus: 2 })
  mustExit(vm, 1)
  t.same(vm.vcpus().map(v => v.state), ['runnable', 'exit_pending'])
  t.equal(vm.vcpu(1).pending_exit, 1)
  t.throws(() => vm.vcpu(2), { code: 'VCPU_NOT_FOUND' })
  t.throws(() => vm.injectInterrupt(-1), { code: 'VCPU_NOT_FOUND' })
  t.throws(() => vm.vcpu(0.5), { code: 'VCPU_NOT_FOUND' })
  t.same(vm.pendingExits().map(e => e.exit), [1])
  t.same(vm.lastHypercall(0), null)
})

void t.test('counterTotals(): every vCPU counter added up, the same as summing vcpus() (each preset)', async t => {
  for (const p of PRESETS) {
    const type = p.types[p.types.length - 1]!
    const { vm } = runAll(Vm.create(presetConfig(p, type, 3, 7)), { maxExits: 2_000 })
    const sum = { accesses: 0, exits: 0, hypercall_errors: 0, machine_checks: 0, interrupts: 0 }
    for (const v of vm.vcpus()) for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += v.counters[k]
    t.ok(sum.exits > 0, `${p.name}: counters moved`)
    t.same(vm.counterTotals(), sum, p.name)
  }
})

// Each preset's exits on each VM type it names, as docs/presets.md describes them.
import t from 'tap'
import {
  Vm, KVM_MAP_GPA_RANGE_ENCRYPTED as ENC, KVM_MAP_GPA_RANGE_PAGE_SZ_2M as SZ_2M, KVM_MEMORY_EXIT_FLAG_PRIVATE as FLAG_PRIVATE
} from '../../src/kvm/index.js'
import type { ExitRecord } from '../../src/kvm/index.js'
import { PRESETS, getPreset } from '../../src/kvm/program/presets/index.js'
import type { Preset } from '../../src/kvm/program/presets/index.js'
import { MIB, mustExit, PAGE, presetConfig, runAll } from './helpers/vm.js'

const GIB = 1024 * MIB
const preset = (name: string): Preset => {
  const p = getPreset(name)
  if (p === undefined) throw new Error(`no preset ${name}`)
  return p
}
const of = (exits: ExitRecord[], vcpu: number): ExitRecord[] => exits.filter(e => e.vcpu === vcpu)
const shape = (e: ExitRecord): string => {
  if (e.hypercall !== undefined) return `HC ${e.hypercall.args[0]} ${e.hypercall.args[1]} ${e.hypercall.args[2]}`
  if (e.io !== undefined) return `IO ${e.io.direction === 1 ? 'OUT' : 'IN'} ${e.io.port}`
  if (e.mmio !== undefined) return `MMIO ${e.mmio.is_write ? 'W' : 'R'} ${e.mmio.phys_addr} ${e.mmio.len}`
  if (e.run.ret === -1) return `MF ${e.run.errno} ${e.memory_fault!.flags} ${e.memory_fault!.gpa}`
  return e.reason
}

void t.test('every preset boots on every type it names, and its program validates there', async t => {
  for (const p of PRESETS) for (const type of p.types) t.ok(Vm.create(presetConfig(p, type, 256)), `${p.name} on ${type}`)
})

void t.test('tdx-boot: 2 MapGPA chunks to shared, 8 IO, 2 chunks back to private (per vCPU at 1 GiB + n * 4 MiB)', async t => {
  const { exits, outcome } = runAll(Vm.create(presetConfig(preset('tdx-boot'), 'tdx')))
  t.equal(outcome, 'halted')
  for (const v of [0, 1]) {
    const b = GIB + v * 4 * MIB
    t.same(of(exits, v).map(shape), [
      `HC ${b} 512 0`, `HC ${b + 2 * MIB} 512 0`,
      ...Array.from({ length: 4 }, () => ['IO OUT 49232', 'IO IN 49235']).flat(),
      `HC ${b} 512 ${ENC}`, `HC ${b + 2 * MIB} 512 ${ENC}`
    ], `vCPU ${v}`)
  }
  const vm = Vm.create(presetConfig(preset('tdx-boot'), 'tdx', 1))
  const e = mustExit(vm)
  vm.decide(0, e.exit, { action: 'resume' })
  vm.decide(0, mustExit(vm).exit, { action: 'resume' })
  t.match(mustExit(vm), { run: { ret: -1, errno: 'EFAULT' }, memory_fault: { flags: 0, gpa: GIB } }, 'no convert: the first shared write faults')
})

void t.test('snp-boot: MSR 1 page, GHCB 16 pages merged, 2 x 2 MiB merged (PAGE_SZ_2M), 8 IO, 1024 pages back', async t => {
  const { exits, outcome } = runAll(Vm.create(presetConfig(preset('snp-boot'), 'snp')))
  t.equal(outcome, 'halted')
  for (const v of [0, 1]) {
    const b = GIB + v * 8 * MIB
    t.same(of(exits, v).map(shape), [
      `HC ${b} 1 0`, `HC ${b + 64 * 1024} 16 0`, `HC ${b + 4 * MIB} 1024 ${SZ_2M}`,
      ...Array.from({ length: 4 }, () => ['IO OUT 49232', 'IO IN 49235']).flat(),
      `HC ${b + 4 * MIB} 1024 ${ENC | SZ_2M}`
    ], `vCPU ${v}`)
  }
})

void t.test('implicit-conversions: 7 MEMORY_FAULT EFAULT with a converting decider (snp, tdx)', async t => {
  for (const type of ['snp', 'tdx'] as const) {
    const { exits, outcome } = runAll(Vm.create(presetConfig(preset('implicit-conversions'), type)))
    t.equal(outcome, 'halted')
    for (const v of [0, 1]) {
      const b = MIB + v * 64 * 1024
      t.same(of(exits, v).map(shape), [
        `MF EFAULT 0 ${b}`, `MF EFAULT ${FLAG_PRIVATE} ${b}`,
        `MF EFAULT 0 ${b}`, `MF EFAULT 0 ${b + PAGE}`, `MF EFAULT 0 ${b + 2 * PAGE}`, `MF EFAULT 0 ${b + 3 * PAGE}`,
        `MF EFAULT ${FLAG_PRIVATE} ${b + 3 * PAGE}`
      ], `${type} vCPU ${v}`)
    }
  }
})

void t.test('buggy-guest: MEMORY_FAULT flags 0 on its own kernel page, then flags PRIVATE with no memslot (convert refused, resume repeats)', async t => {
  for (const type of ['snp', 'tdx'] as const) {
    const vm = Vm.create(presetConfig(preset('buggy-guest'), type, 2))
    const e1 = mustExit(vm, 1)
    t.equal(shape(e1), `MF EFAULT 0 ${MIB + PAGE}`)
    vm.decide(1, e1.exit, { action: 'convert' })
    const e2 = mustExit(vm, 1)
    t.equal(shape(e2), `MF EFAULT ${FLAG_PRIVATE} ${64 * MIB + PAGE}`)
    t.throws(() => vm.decide(1, e2.exit, { action: 'convert' }), { code: 'INVALID_ACTION' })
    vm.decide(1, e2.exit, { action: 'resume' })
    t.equal(shape(mustExit(vm, 1)), shape(e2), `${type}: the same fault again`)
  }
})

void t.test('hwpoison: OUT 0x80=1; with the page poisoned, EHWPOISON PRIVATE; a plain resume faults again; resume with #MC reaches OUT 0x80=2', async t => {
  for (const type of ['sw_protected', 'snp', 'tdx'] as const) {
    const vm = Vm.create(presetConfig(preset('hwpoison'), type, 2))
    const o1 = mustExit(vm, 1)
    t.same(o1.io?.data, [1])
    vm.poison(2 * MIB + PAGE)
    vm.decide(1, o1.exit, { action: 'resume' })
    const f = mustExit(vm, 1)
    t.equal(shape(f), `MF EHWPOISON ${FLAG_PRIVATE} ${2 * MIB + PAGE}`, type)
    vm.decide(1, f.exit, { action: 'resume' })
    const again = mustExit(vm, 1)
    t.equal(shape(again), shape(f), `${type}: kvm_gmem_get_pfn returns -EHWPOISON again`)
    vm.decide(1, again.exit, { action: 'resume', inject: 'mce' })
    t.same(mustExit(vm, 1).io?.data, [2])
    t.equal(vm.vcpu(1).counters.machine_checks, 1)
    const clean = Vm.create(presetConfig(preset('hwpoison'), type, 1))
    const c1 = mustExit(clean)
    clean.decide(0, c1.exit, { action: 'resume' })
    t.same(mustExit(clean).io?.data, [2], 'without poison: straight to the second OUT')
  }
})

void t.test('no-guest-memfd-loop: MEMORY_FAULT PRIVATE at 1 GiB + n * 4 KiB for ever; convert refused; converting by hand does not help', async t => {
  for (const type of ['snp', 'tdx'] as const) {
    const vm = Vm.create(presetConfig(preset('no-guest-memfd-loop'), type, 2))
    const e = mustExit(vm, 1)
    t.equal(shape(e), `MF EFAULT ${FLAG_PRIVATE} ${GIB + PAGE}`)
    t.throws(() => vm.decide(1, e.exit, { action: 'convert' }), { code: 'INVALID_ACTION' })
    vm.setMemoryAttributes({ address: GIB + PAGE, size: PAGE, attributes: 8, flags: 0 })
    vm.decide(1, e.exit, { action: 'resume' })
    t.equal(shape(mustExit(vm, 1)), shape(e), `${type}: again`)
  }
})

void t.test('conversion-storm: 64 one-page MapGPA exits alternating direction, then seeded random conversions (and faults on snp/tdx)', async t => {
  for (const type of ['sw_protected', 'snp', 'tdx'] as const) {
    const { exits, outcome } = runAll(Vm.create(presetConfig(preset('conversion-storm'), type, 1)))
    t.equal(outcome, 'halted')
    t.same(exits.slice(0, 64).map(shape), Array.from({ length: 32 }, () => [`HC ${GIB} 1 0`, `HC ${GIB} 1 ${ENC}`]).flat(), type)
    const rest = exits.slice(64)
    const hc = rest.filter(e => e.reason === 'KVM_EXIT_HYPERCALL').length
    const mf = rest.filter(e => e.reason === 'KVM_EXIT_MEMORY_FAULT').length
    t.ok(hc > 4500 && hc < 5500, `${type}: about 5,000 conversions (${hc})`)
    if (type === 'sw_protected') t.equal(mf, 0, 'no faults: privacy comes from the attribute')
    else t.ok(mf > 2000 && mf < 3000, `${type}: about 2,500 faults (${mf})`)
  }
})

void t.test('io-heavy: 6,000 exits in order, no memory faults (every type)', async t => {
  for (const type of ['default', 'sw_protected', 'snp', 'tdx'] as const) {
    const vm = Vm.create(presetConfig(preset('io-heavy'), type, 2))
    const { exits, outcome } = runAll(vm)
    t.equal(outcome, 'halted')
    const v1 = of(exits, 1)
    t.equal(v1.length, 6000, type)
    t.same(v1.slice(0, 6).map(shape), ['IO OUT 1016', 'IO IN 1021', `MMIO W ${0xfeb00000 + PAGE} 4`, `MMIO R ${0xfeb00000 + PAGE + 4} 4`, 'IO OUT 3320', 'IO IN 3324'])
    t.equal(exits.filter(e => e.reason === 'KVM_EXIT_MEMORY_FAULT').length, 0)
  }
})

// The same config, seed and decisions give the same exits: each preset run twice.
import t from 'tap'
import { Vm } from '../../src/kvm/index.js'
import { PRESETS } from '../../src/kvm/program/presets/index.js'
import { presetConfig, runAll } from './helpers/vm.js'

void t.test('each preset, run twice with the same seed and the same decisions, gives identical exits', async t => {
  for (const p of PRESETS) {
    const type = p.types[p.types.length - 1]!
    const a = runAll(Vm.create(presetConfig(p, type, 3, 42)), { maxExits: 20_000 })
    const b = runAll(Vm.create(presetConfig(p, type, 3, 42)), { maxExits: 20_000 })
    t.ok(a.exits.length > 0, `${p.name}: ${a.exits.length} exits`)
    t.equal(JSON.stringify(b.exits), JSON.stringify(a.exits), `${p.name} on ${type}`)
    t.same(b.vm.vcpus(), a.vm.vcpus(), 'same counters')
  }
})

void t.test('a different seed gives a different random stream (conversion-storm)', async t => {
  const p = PRESETS.find(x => x.name === 'conversion-storm')!
  const a = runAll(Vm.create(presetConfig(p, 'tdx', 1, 1)))
  const b = runAll(Vm.create(presetConfig(p, 'tdx', 1, 2)))
  t.not(JSON.stringify(b.exits), JSON.stringify(a.exits))
})

void t.test('the budget slices do not change the exits (run(v, 1) vs run(v, 5000))', async t => {
  const p = PRESETS.find(x => x.name === 'conversion-storm')!
  const a = runAll(Vm.create(presetConfig(p, 'snp', 2, 5)), { budget: 1 })
  const b = runAll(Vm.create(presetConfig(p, 'snp', 2, 5)), { budget: 5000 })
  const byVcpu = (xs: typeof a.exits, v: number): string => JSON.stringify(xs.filter(e => e.vcpu === v).map(({ exit: _e, ...rest }) => rest))
  t.equal(byVcpu(a.exits, 0), byVcpu(b.exits, 0))
  t.equal(byVcpu(a.exits, 1), byVcpu(b.exits, 1))
})

// Vm.snapshot / Vm.restore: plain JSON, mid-exit, continues identically.
import t from 'tap'
import { Vm } from '../../src/kvm/index.js'
import type { VmSnapshot } from '../../src/kvm/index.js'
import { PRESETS } from '../../src/kvm/program/presets/index.js'
import { mustExit, PAGE, presetConfig, runAll, vmWith } from './helpers/vm.js'

const roundTrip = (vm: Vm): Vm => Vm.restore(JSON.parse(JSON.stringify(vm.snapshot())) as VmSnapshot)

void t.test('snapshot mid-run with a pending exit, JSON round trip, restore, continue: identical exits to an uninterrupted run', async t => {
  for (const name of ['conversion-storm', 'snp-boot', 'tdx-boot', 'implicit-conversions']) {
    const p = PRESETS.find(x => x.name === name)!
    const type = p.types[p.types.length - 1]!
    const straight = runAll(Vm.create(presetConfig(p, type, 2, 9)))
    for (const at of [1, 3, 17, 500]) {
      let swaps = 0
      const resumed = runAll(Vm.create(presetConfig(p, type, 2, 9)), {
        swap: (vm, n) => {
          if (n !== at) return vm
          swaps++
          t.ok(vm.pendingExits().length > 0, 'a pending exit is in the snapshot')
          return roundTrip(vm)
        }
      })
      if (at <= straight.exits.length) t.equal(swaps, 1)
      t.equal(JSON.stringify(resumed.exits), JSON.stringify(straight.exits), `${name}: snapshot after exit ${at}`)
      t.same(resumed.vm.vcpus(), straight.vm.vcpus())
      t.same(resumed.vm.backing(), straight.vm.backing(), 'same memory')
    }
  }
})

void t.test('a decided-but-not-yet-applied exit survives a snapshot (it takes effect on the next run)', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1024, private: false }], { type: 'tdx' })
  const e = mustExit(vm)
  vm.decide(0, e.exit, { action: 'convert' })
  const copy = roundTrip(vm)
  t.same(copy.pendingExits(), [])
  t.same(mustExit(copy).hypercall?.args.slice(0, 2), [2 * 1024 * 1024, 512], 'the next chunk')
  t.same(copy.memoryAttributes(0, PAGE), [{ gpa: 0, size: PAGE, attributes: 0 }])
})

void t.test('exit ids continue after restore and after reset; reset returns to boot state', async t => {
  const vm = vmWith([{ op: 'write', gpa: 0, private: false }], { type: 'tdx' })
  const e = mustExit(vm)
  vm.poison(PAGE)
  const copy = roundTrip(vm)
  t.same(copy.pendingExits(), [e])
  copy.decide(0, e.exit, { action: 'convert' })
  t.same(copy.run(0, 10), { kind: 'halted' })
  copy.reset()
  t.same(copy.vcpus()[0]?.state, 'runnable')
  t.same(copy.backing(0, 2 * PAGE), [{ gpa: 0, size: 2 * PAGE, attributes: 8, shared_populated: false, private_populated: false, poisoned: false }])
  t.equal(mustExit(copy).exit, e.exit + 1, 'never reused')
})

void t.test('restore rejects a snapshot that does not match its config', async t => {
  const vm = vmWith([], { type: 'tdx' })
  const s = vm.snapshot()
  t.throws(() => Vm.restore({ ...s, version: 2 as 1 }), { code: 'INVALID_CONFIG' })
  t.throws(() => Vm.restore({ ...s, state: { ...(s.state as object), vcpus: [] } }), { code: 'INVALID_CONFIG' })
  t.throws(() => Vm.restore({ ...s, state: { ...(s.state as object), attributes: { default: 0, starts: [1], values: [99] } } }), { code: 'INVALID_CONFIG' })
})

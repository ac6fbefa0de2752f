// The recorded inputs of a VM are its whole history: the core as it was created plus every
// input, applied again, is the same core (what the store's recovery and trace replay rely on).
import t from 'tap'
import fc from 'fast-check'
import { Control, applyInput } from '../../src/control/index.js'
import type { ControlEvent, CoreInput, VmRecorder } from '../../src/control/index.js'
import { Vm } from '../../src/kvm/index.js'
import type { VmSnapshot } from '../../src/kvm/index.js'
import { settle } from '../helper.js'
import { opA } from './fixtures.js'

interface History { start: VmSnapshot, inputs: CoreInput[], order: string[], live: () => VmSnapshot }

/** Records each VM's creation snapshot, its inputs, and the order of inputs and events. */
function recorder (): { rec: VmRecorder, vms: Map<string, History> } {
  const vms = new Map<string, History>()
  const rec: VmRecorder = {
    input (r, i) { const h = vms.get(r.id); h?.inputs.push(i); h?.order.push(i.op) },
    event (r, e: ControlEvent) {
      let h = vms.get(r.id)
      // The first event (state "created") comes before any input: the core is as created.
      if (h === undefined) { h = { start: r.vm.snapshot(), inputs: [], order: [], live: () => r.vm.snapshot() }; vms.set(r.id, h) }
      h.order.push(e.type)
    }
  }
  return { rec, vms }
}

function replayed (h: History): VmSnapshot {
  const vm = Vm.restore(h.start)
  for (const i of h.inputs) applyInput(vm, i)
  return vm.snapshot()
}

const ACTIONS = ['convert', 'resume', 'kill'] as const

void t.test('a VM rebuilt from its creation and its recorded inputs equals the live one', async t => {
  await fc.assert(fc.asyncProperty(
    fc.constantFrom('snp', 'tdx', 'sw_protected'),
    fc.integer({ min: 1, max: 3 }),
    fc.array(fc.oneof(
      fc.constantFrom(...ACTIONS).map(a => ({ kind: 'decide' as const, a })),
      fc.integer({ min: 0, max: 15 }).map(page => ({ kind: 'attrs' as const, page })),
      fc.integer({ min: 0, max: 15 }).map(page => ({ kind: 'poison' as const, page })),
      fc.constant({ kind: 'interrupt' as const }),
      fc.constant({ kind: 'reset' as const })
    ), { minLength: 5, maxLength: 40 }),
    async (type, vcpus, steps) => {
      const c = new Control()
      const { rec, vms } = recorder()
      c.record(rec)
      try {
        const id = c.createVm(opA, { type, vcpus, memory: { size_mib: 16 }, preset: 'conversion-storm', seed: 7 }).id
        c.act(opA, id, 'start')
        for (const s of steps) {
          await settle(2)
          const state = c.getVm(opA, id).state
          if (state === 'killed' || state === 'crashed') break
          const pending = c.exits(opA, id, { pending: true }).items[0]
          switch (s.kind) {
            case 'decide':
              if (pending !== undefined) { try { c.decide(opA, id, pending.exit, { action: s.a }, 'rest') } catch { /* refused: stays pending */ } }
              break
            case 'attrs':
              c.setMemoryAttributes(opA, id, { address: s.page * 4096, size: 4096, attributes: 8, flags: 0 })
              break
            case 'poison':
              try { c.poison(opA, id, s.page * 4096) } catch { /* not guest_memfd */ }
              break
            case 'interrupt':
              c.injectInterrupt(opA, id, 0)
              break
            case 'reset':
              try { c.act(opA, id, 'reset') } catch { /* not allowed from this state */ }
              break
          }
        }
        const h = vms.get(id)
        t.ok(h !== undefined && h.inputs.length > 0, 'inputs were recorded')
        if (h === undefined) return
        t.same(replayed(h), h.live(), `${type} x${vcpus}: ${h.inputs.length} inputs`)
        // Each exit follows the run that produced it: inputs and events share one order.
        t.equal(h.order.indexOf('exit') > h.order.indexOf('run'), h.order.includes('exit'))
      } finally {
        c.close()
      }
    }
  ), { numRuns: 25 })
})

import t from 'tap'
import { decidedFrame, exitFrame, exitMessage, stateFrame } from '../../src/control/frames.js'
import { buildVmConfig } from '../../src/control/vm-config.js'
import { DEFAULT_LIMITS } from '../../src/control/types.js'
import type { CreateVmInput } from '../../src/control/index.js'
import { Vm } from '../../src/kvm/index.js'
import { PRESETS } from '../../src/kvm/program/presets/index.js'

void t.test('decided and state frames are the contract\'s objects as JSON, keys in order', async t => {
  for (const vm of ['vm_AbC-_09xyzAbC-_09', 'odd "id" \\ é']) {
    // The frame builders take the id as JSON (quoted once per VM, VmRecord.idJson).
    t.equal(decidedFrame(JSON.stringify(vm), 12, 345, 'resume', 'controller'),
      JSON.stringify({ type: 'decided', vm, exit: 12, seq: 345, action: 'resume', by: 'controller' }))
    t.same(JSON.parse(decidedFrame(JSON.stringify(vm), 1, 2, 'kill', 'timeout')), { type: 'decided', vm, exit: 1, seq: 2, action: 'kill', by: 'timeout' })
    t.equal(stateFrame(vm, 3, 'running', 'start'), JSON.stringify({ type: 'state', vm, seq: 3, state: 'running', reason: 'start' }))
  }
})

void t.test('an exit frame is exitMessage as JSON, byte for byte, over every preset on every type', async t => {
  const limits = { ...DEFAULT_LIMITS, maxVcpus: 4 }
  let compared = 0
  const reasons = new Set<string>()
  for (const preset of PRESETS) {
    for (const type of preset.types) {
      const { config } = buildVmConfig({ type, vcpus: 2, preset: preset.name, ...(type === 'sw_protected' ? { hypercall_exit: true } : {}) } as CreateVmInput, limits)
      const vm = Vm.create(config)
      // Up to 200 exits per VM: convert what converts, resume the rest, alternating pending flags.
      let exits = 0
      for (let step = 0; step < 5000 && exits < 200; step++) {
        const v = step % 2
        const res = vm.run(v, 256)
        if (res.kind !== 'exit') continue
        const r = res.exit
        exits++
        reasons.add(r.reason)
        const frame = exitFrame(JSON.stringify('vm_' + preset.name), exits, r, exits % 2 === 0)
        if (frame !== JSON.stringify(exitMessage('vm_' + preset.name, exits, r, exits % 2 === 0))) {
          t.fail(`${preset.name} on ${type}: ${frame}`)
          return
        }
        compared++
        try { vm.decide(v, r.exit, { action: 'convert' }) } catch { try { vm.decide(v, r.exit, { action: 'resume' }) } catch { break } }
      }
    }
  }
  t.ok(compared > 500, `${compared} exits compared`)
  t.ok(reasons.size >= 4, `reasons seen: ${[...reasons].join(', ')}`)
})

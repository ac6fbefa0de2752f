import t from 'tap'
import { decidedFrame, stateFrame } from '../../src/control/frames.js'

void t.test('decided and state frames are the contract\'s objects as JSON, keys in order', async t => {
  for (const vm of ['vm_AbC-_09xyzAbC-_09', 'odd "id" \\ é']) {
    t.equal(decidedFrame(vm, 12, 345, 'resume', 'controller'),
      JSON.stringify({ type: 'decided', vm, exit: 12, seq: 345, action: 'resume', by: 'controller' }))
    t.same(JSON.parse(decidedFrame(vm, 1, 2, 'kill', 'timeout')), { type: 'decided', vm, exit: 1, seq: 2, action: 'kill', by: 'timeout' })
    t.equal(stateFrame(vm, 3, 'running', 'start'), JSON.stringify({ type: 'state', vm, seq: 3, state: 'running', reason: 'start' }))
  }
})

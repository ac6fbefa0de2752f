import t from 'tap'
import { Control, TRANSITIONS, nextState } from '../../src/control/index.js'
import type { VmAction, VmState } from '../../schemas/common.js'
import { settle } from '../helper.js'
import { opA, vmBody } from './fixtures.js'

const STATES: VmState[] = ['created', 'running', 'paused', 'stopped', 'killed', 'crashed']
const ACTIONS: VmAction[] = ['start', 'pause', 'resume', 'stop', 'kill', 'reset']

/** Puts a fresh VM in `state` through the public API. */
async function vmIn (c: Control, state: VmState): Promise<string> {
  // A VM that waits on a pending HLT exit stays running until someone decides.
  const program = state === 'crashed' ? [{ op: 'panic' }] : [{ op: 'hlt' }]
  const id = c.createVm(opA, vmBody({ program })).id
  if (state === 'created') return id
  c.act(opA, id, 'start')
  await settle()
  if (state === 'paused') c.act(opA, id, 'pause')
  if (state === 'stopped') c.act(opA, id, 'stop')
  if (state === 'killed') c.act(opA, id, 'kill')
  return id
}

void t.test('every action from every state follows the transition table', async t => {
  for (const from of STATES) {
    for (const action of ACTIONS) {
      const c = new Control()
      const id = await vmIn(c, from)
      t.equal(c.getVm(opA, id).state, from, `set up ${from}`)
      const to = nextState(from, action)
      if (to === null) {
        t.throws(() => c.act(opA, id, action), { code: 'INVALID_TRANSITION' }, `${action} from ${from} is refused`)
        t.equal(c.getVm(opA, id).state, from, `${action} from ${from} leaves the state`)
      } else {
        t.equal(c.act(opA, id, action).state, to, `${action}: ${from} -> ${to}`)
      }
      c.close()
    }
  }
})

void t.test('the table: reset keeps a paused VM paused and boots the others running', async t => {
  t.equal(nextState('paused', 'reset'), 'paused')
  t.equal(nextState('crashed', 'reset'), 'running')
  t.equal(nextState('stopped', 'reset'), 'running')
  t.equal(nextState('killed', 'kill'), null)
  t.same(TRANSITIONS.start, ['created'])
})

void t.test('a VM whose vCPUs all halt is stopped with reason halted', async t => {
  const c = new Control()
  const id = c.createVm(opA, vmBody({ vcpus: 3, program: [] })).id
  c.act(opA, id, 'start')
  await settle()
  const v = c.getVm(opA, id)
  t.equal(v.state, 'stopped')
  t.equal(v.state_reason, 'halted')
  c.close()
})

void t.test('a guest crash makes the VM crashed, named by its system event, with the exit pending', async t => {
  const c = new Control()
  const id = c.createVm(opA, vmBody({ program: [{ op: 'panic' }] })).id
  c.act(opA, id, 'start')
  await settle()
  const v = c.getVm(opA, id)
  t.equal(v.state, 'crashed')
  t.equal(v.state_reason, 'KVM_SYSTEM_EVENT_CRASH')
  const pending = c.exits(opA, id, { pending: true }).items
  t.equal(pending.length, 1)
  t.equal(pending[0]?.reason, 'KVM_EXIT_SYSTEM_EVENT')
  c.close()
})

void t.test('autostart starts the VM at creation', async t => {
  const c = new Control()
  const v = c.createVm(opA, vmBody({ autostart: true }))
  t.equal(v.state, 'running')
  c.close()
})

void t.test('reset closes pending exits with decided kill and boots again', async t => {
  const c = new Control()
  const id = c.createVm(opA, vmBody()).id
  const frames: string[] = []
  c.subscribe({ vm: id }, e => frames.push(e.frame))
  c.act(opA, id, 'start')
  await settle()
  t.equal(c.getVm(opA, id).counters.pending, 1)
  c.act(opA, id, 'reset')
  const decided = frames.map(f => JSON.parse(f) as { type: string, action?: string, by?: string }).filter(m => m.type === 'decided')
  t.match(decided, [{ action: 'kill', by: 'rest' }])
  t.equal(c.getVm(opA, id).state, 'running')
  await settle()
  // After the reset the program runs again from the start: a new exit, a new id.
  const pending = c.exits(opA, id, { pending: true }).items
  t.equal(pending.length, 1)
  t.equal(pending[0]?.exit, 2)
  c.close()
})

void t.test('a scheduler with many vCPUs on several VMs gives each its turn', async t => {
  const c = new Control({ limits: { runBudget: 16 } })
  const ids = [0, 1, 2].map(() => c.createVm(opA, vmBody({ vcpus: 8, autostart: true, program: [{ op: 'sweep', gpa: 0, size: 65536, access: 'read' }, { op: 'out', port: 1, size: 1, value: 1 }] })).id)
  await settle(200)
  for (const id of ids) t.equal(c.getVm(opA, id).counters.pending, 8, `${id}: every vCPU reached its exit`)
  c.close()
})

// Traces across a restart from the store: the trace journal lives in memory, so a VM back
// from the store is traced from its recovery on, and its trace says it was cut there.
import t from 'tap'
import { Control } from '../../src/control/index.js'
import { MemoryStore } from '../../src/store/memory.js'
import { Traces } from '../../src/traces/service.js'
import { settle } from '../helper.js'
import { opA } from '../control/fixtures.js'
import { lines } from './helpers.js'

const traced = (store: MemoryStore): { control: Control, traces: Traces } => {
  const control = new Control({ store })
  const traces = new Traces(control, { version: 'test' })
  return { control, traces }
}

void t.test('a VM recovered from the store has a trace cut at its recovery, which goes on from there', async t => {
  const store = new MemoryStore()
  const a = traced(store)
  const id = a.control.createVm(opA, { type: 'snp', vcpus: 1, memory: { size_mib: 16 }, preset: 'conversion-storm' }).id
  a.control.act(opA, id, 'start')
  await settle(4)
  t.equal(lines([...a.traces.trace(opA, id)].join(''))[0]?.cut, null, 'before the restart: from creation')
  a.control.act(opA, id, 'pause')
  a.control.commit()
  a.traces.close()
  a.control.close()

  const b = traced(store)
  t.teardown(() => { b.traces.close(); b.control.close() })
  const before = lines([...b.traces.trace(opA, id)].join(''))
  t.match(before[0], { t: 'header', vm: { id, preset: 'conversion-storm' }, cut: { dropped: null } }, 'the header says recording began later')
  t.match(before.at(-1), { t: 'end', state: 'paused' })
  b.control.act(opA, id, 'resume')
  await settle(4)
  const after = lines([...b.traces.trace(opA, id)].join(''))
  t.ok(after.some(l => l.t === 'state' && l.state === 'running'), 'what follows the recovery is recorded')
  t.throws(() => b.traces.create(opA, [...b.traces.trace(opA, id)].join(''), { decide: 'recorded' }), { code: 'TRACE_INCOMPLETE' }, 'and, cut, it is not replayed')
})

// The trace journal's holding place for core decisions until their `decided` event.
import t from 'tap'
import { DecisionsInFlight } from '../../src/traces/journal.js'

void t.test('decisions in flight: each taken once by its exit, a later one replacing an earlier one', async t => {
  const d = new DecisionsInFlight()
  t.equal(d.take(1), undefined, 'none put')
  d.put(1, { action: 'resume' })
  t.same(d.take(1), { action: 'resume' })
  t.equal(d.take(1), undefined, 'taken once')
  // Several at once (a kill closing every pending exit), taken in any order.
  d.put(5, { action: 'kill' })
  d.put(6, { action: 'resume', ret: 1 })
  d.put(7, { action: 'resume', data: [1, 2] })
  // A decision the core refused is followed by another for the same exit.
  d.put(6, { action: 'resume', ret: 2 })
  t.same(d.take(6), { action: 'resume', ret: 2 }, 'the later one')
  t.same(d.take(5), { action: 'kill' })
  t.equal(d.take(6), undefined)
  t.same(d.take(7), { action: 'resume', data: [1, 2] })
  t.equal(d.take(5), undefined, 'nothing left')
})

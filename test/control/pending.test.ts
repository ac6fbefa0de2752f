// A VM's pending exits: by exit id, oldest first, whatever is decided in between (the
// controller's redelivery and closeAll walk them in that order).
import t from 'tap'
import { PendingExits } from '../../src/control/pending.js'
import type { PendingExit } from '../../src/control/pending.js'

const p = (vcpu: number): PendingExit => ({ vcpu, timer: undefined, published: 0, span: 0 })

void t.test('pending exits keep their order through deletions and replacements', async t => {
  const q = new PendingExits()
  for (const [exit, vcpu] of [[1, 0], [2, 1], [3, 2], [4, 3]] as const) q.set(exit, p(vcpu))
  t.equal(q.size, 4)
  t.equal(q.delete(2), true)
  t.equal(q.delete(2), false, 'an exit not pending is not deleted twice')
  t.same(q.keys(), [1, 3, 4], 'the others keep their order')
  t.equal(q.get(3)?.vcpu, 2)
  t.equal(q.get(2), undefined)
  t.equal(q.has(4), true)
  q.set(3, p(9))
  t.same(q.entries().map(([id, e]) => [id, e.vcpu]), [[1, 0], [3, 9], [4, 3]], 'set on a pending exit replaces it in place')
  q.set(5, p(1))
  t.same(q.values().map(e => e.vcpu), [0, 9, 3, 1], 'a new exit is the newest')
  for (const id of q.keys()) q.delete(id)
  t.equal(q.size, 0, 'a copy of the keys may be walked while deleting')
})

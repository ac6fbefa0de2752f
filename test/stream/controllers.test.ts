// One controller per VM; takeover hands the role over and names who lost it.
import t from 'tap'
import { ControllerRegistry } from '../../src/stream/controllers.js'

void t.test('one holder per VM: conflict, takeover, release only by the holder', async t => {
  const r = new ControllerRegistry<string>()
  t.same(r.claim('v', 'a', false), { ok: true })
  t.same(r.claim('v', 'a', false), { ok: true }, 'claiming again is fine')
  t.same(r.claim('v', 'b', false), { ok: false })
  t.equal(r.holder('v'), 'a')
  t.same(r.claim('v', 'b', true), { ok: true, revoked: 'a' })
  r.release('v', 'a')
  t.equal(r.holder('v'), 'b', 'a revoked holder releasing late changes nothing')
  t.equal(r.size, 1)
  r.release('v', 'b')
  t.equal(r.holder('v'), undefined)
  t.equal(r.size, 0)
})

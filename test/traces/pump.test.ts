// The replay pump alone: turns alternate tenants, then a tenant's replays, whatever the
// number of replays a tenant has; a replay that cannot go on leaves the rings.
import t from 'tap'
import { ReplayPump } from '../../src/traces/pump.js'
import type { Pumped } from '../../src/traces/pump.js'

function replay (tenant: string, name: string, turns: number, ran: string[]): Pumped {
  let left = turns
  return {
    tenant,
    get runnable () { return left > 0 },
    work () { ran.push(name); left-- }
  }
}

const drained = async (): Promise<void> => { for (let i = 0; i < 50; i++) await new Promise(resolve => setImmediate(resolve)) }

void t.test('a tenant with three replays gets as many turns as a tenant with one', async t => {
  const pump = new ReplayPump()
  t.teardown(() => { pump.close() })
  const ran: string[] = []
  for (const r of [replay('a', 'a1', 2, ran), replay('a', 'a2', 2, ran), replay('a', 'a3', 2, ran), replay('b', 'b1', 3, ran)]) pump.wake(r)
  await drained()
  t.same(ran.slice(0, 6), ['a1', 'b1', 'a2', 'b1', 'a3', 'b1'], 'tenants alternate; a tenant\'s replays take its turns in order')
  t.same([...ran].sort(), ['a1', 'a1', 'a2', 'a2', 'a3', 'a3', 'b1', 'b1', 'b1'], 'each replay ran until it could not go on, and no more')
})

void t.test('a closed pump runs nothing more', async t => {
  const pump = new ReplayPump()
  const ran: string[] = []
  pump.close()
  pump.wake(replay('a', 'a1', 1, ran))
  await drained()
  t.same(ran, [])
})

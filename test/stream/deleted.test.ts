// Deleting a VM ends it on the stream: every subscriber gets a `state` event with state
// `deleted` (the VM's last event), and each socket drops the VM's subscription and
// controller role, so they no longer count toward the socket's subscription limit.
import t from 'tap'
import { bearer, build, TOKENS } from '../helper.js'
import { Rest } from './rest.js'
import { listen, WsClient } from './ws-client.js'

void t.test('a deleted VM sends state "deleted" and its subscriptions and controller go', async t => {
  const app = await build(t)
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const vm = await rest.createVm()
  const ctl = await WsClient.open(url, TOKENS.operatorA)
  const obs = await WsClient.open(url, TOKENS.observerA)
  await ctl.request({ type: 'subscribe', vm, role: 'controller' })
  await obs.request({ type: 'subscribe', vm, role: 'observer' })
  await obs.request({ type: 'subscribe', vm: '*', role: 'observer' })
  t.match(app.streamHub.stats(), { subscriptions: 3, controllers: 1 })

  const del = await app.inject({ method: 'DELETE', url: `/v1/vms/${vm}`, headers: bearer(TOKENS.operatorA) })
  t.equal(del.statusCode, 204)
  for (const c of [ctl, obs]) {
    const killed = await c.next(m => m.type === 'state' && m.vm === vm && m.state === 'killed')
    const gone = await c.next(m => m.type === 'state' && m.vm === vm && m.state === 'deleted')
    t.ok((gone.seq as number) > (killed.seq as number), 'deleted is the last event, after killed')
  }
  t.equal(obs.frames.filter(m => m.type === 'state' && m.state === 'deleted').length, 1, 'once, though two subscriptions carried it')
  t.match(app.streamHub.stats(), { subscriptions: 1, controllers: 0 }, 'only the observer\'s "*" is left')
  t.same(ctl.violations, [])
  // Unsubscribing from the deleted VM is already done: acknowledged.
  t.equal((await ctl.request({ type: 'unsubscribe', vm })).type, 'ack')
  await Promise.all([ctl.close(), obs.close()])
})

void t.test('deleted VMs no longer count toward the per-socket subscription limit', async t => {
  const app = await build(t, { settings: { stream: { maxSubscriptions: 2 } } })
  const url = await listen(app)
  const rest = new Rest(app, TOKENS.operatorA)
  const ws = await WsClient.open(url, TOKENS.operatorA)
  for (let round = 0; round < 3; round++) {
    const vms = [await rest.createVm(), await rest.createVm()]
    for (const vm of vms) t.equal((await ws.request({ type: 'subscribe', vm, role: 'controller' })).type, 'subscribed', `round ${round}`)
    for (const vm of vms) {
      await app.inject({ method: 'DELETE', url: `/v1/vms/${vm}`, headers: bearer(TOKENS.operatorA) })
      await ws.next(m => m.type === 'state' && m.vm === vm && m.state === 'deleted')
    }
  }
  t.match(app.streamHub.stats(), { subscriptions: 0, controllers: 0 })
  await ws.close()
})

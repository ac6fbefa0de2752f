// The CLI's flow over real sockets on 127.0.0.1: a run decided by a stream controller,
// its trace fetched, a replay started, and a controller (the same policy, over the stream)
// subscribed to the replay VM as a user's would be; the replay is polled until it passes.
// With 2 vCPUs the controller answers exits before the recording reached their decision:
// the replay holds those and applies them in the recorded order.
import t from 'tap'
import type { Test } from 'tap'
import { FaultlineClient } from '../../src/client/index.js'
import { runController } from '../../src/cli/controller.js'
import { alwaysConvert } from '../../src/cli/policies.js'
import type { Policy } from '../../src/cli/policies.js'
import type { ReplayView } from '../../schemas/trace.js'
import { build, TOKENS } from '../helper.js'

async function serve (t: Test): Promise<{ url: string, client: FaultlineClient }> {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const a = app.server.address()
  if (a === null || typeof a === 'string') throw new Error('not listening on TCP')
  const url = `http://127.0.0.1:${a.port}`
  return { url, client: new FaultlineClient({ url, token: TOKENS.operatorA }) }
}

const auth = { authorization: `Bearer ${TOKENS.operatorA}` }

async function control (t: Test, client: FaultlineClient, vm: string, policy: Policy, start: boolean): Promise<void> {
  const stream = client.stream()
  t.teardown(() => stream.close())
  await stream.ready()
  await runController({ client, stream, vm, policy, onSubscribed: async () => { if (start) await client.action(vm, 'start') } })
}

async function poll (url: string, id: string): Promise<ReplayView> {
  for (let k = 0; k < 400; k++) {
    const v = await (await fetch(`${url}/v1/replays/${id}`, { headers: auth })).json() as ReplayView
    if (v.finished_at !== null) return v
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  throw new Error('the replay did not finish')
}

void t.test('record over the stream, replay with a stream controller: passed; a changed policy: diverged at its exit', async t => {
  const { url, client } = await serve(t)
  const vm = await client.createVm({ type: 'tdx', vcpus: 2, preset: 'tdx-boot' })
  await control(t, client, vm.id, alwaysConvert, true)
  const trace = await (await fetch(`${url}/v1/vms/${vm.id}/trace`, { headers: auth })).text()
  t.ok(trace.startsWith('{"t":"header"'), 'a trace')

  const start = async (q: string): Promise<ReplayView> => {
    const r = await fetch(`${url}/v1/replays?${q}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: trace })
    t.equal(r.status, 201)
    return await r.json() as ReplayView
  }
  const same = await start('decide=controller')
  await control(t, client, same.vm, alwaysConvert, false)
  const v = await poll(url, same.id)
  t.equal(v.state, 'passed', JSON.stringify(v.divergences.slice(0, 2)))
  t.equal(v.decisions.compared, v.decisions.recorded)

  const changed = await start('decide=controller&on_divergence=use_recorded')
  // Kills nothing, converts nothing: resumes exit 3 instead of converting it.
  await control(t, client, changed.vm, (e) => (e as { exit?: number }).exit === 3 ? { action: 'resume', ret: 0 } : alwaysConvert(e), false)
  const d = await poll(url, changed.id)
  t.equal(d.state, 'diverged')
  t.match(d.divergences, [{ kind: 'DECISION_DIVERGED', exit: 3, recorded: { action: 'convert' }, actual: { action: 'resume' } }])
})

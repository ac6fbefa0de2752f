// Load shedding: under event-loop pressure the server answers 503 FAULTLINE_OVERLOADED
// rather than queueing work it cannot serve in time (@fastify/under-pressure).
import t from 'tap'
import { bearer, build, TOKENS } from '../helper.js'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

void t.test('a blocked event loop makes requests 503 FAULTLINE_OVERLOADED with retry-after', async t => {
  // A 1 ms limit and a 1.5 s block: under-pressure's next sample (the mean delay over its
  // one-second window) is then far over the limit, however noisy the machine is.
  const app = await build(t, { settings: { maxEventLoopDelayMs: 1 } })
  const calm = await app.inject({ method: 'GET', url: '/v1/vms', headers: bearer(TOKENS.operatorA) })
  t.equal(calm.statusCode, 200, 'served before the pressure')

  const until = Date.now() + 1500
  while (Date.now() < until) { /* hold the event loop, as a runaway handler would */ }
  const isUnderPressure = (app as unknown as { isUnderPressure: () => boolean }).isUnderPressure
  // Bounded wait for the overdue sample to run; it flips the flag once, right after the block.
  for (let i = 0; i < 300 && !isUnderPressure(); i++) await sleep(10)
  t.ok(isUnderPressure(), 'the sample after the block sees the delay')

  const r = await app.inject({ method: 'GET', url: '/v1/vms', headers: bearer(TOKENS.operatorA) })
  t.equal(r.statusCode, 503)
  t.equal(r.json().code, 'FAULTLINE_OVERLOADED')
  t.ok(r.headers['retry-after'], 'tells the client when to come back')
})

// Load shedding: under event-loop pressure the server answers 503 FAULTLINE_OVERLOADED
// rather than queueing work it cannot serve in time (src/event-loop-pressure.ts).
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions } from '../../src/logger.js'
import fp from 'fastify-plugin'
import { localServer } from '../../src/local-server.js'
import { bearer, build, TOKEN_ENTRIES, TOKENS } from '../helper.js'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

void t.test('a blocked event loop makes requests 503 FAULTLINE_OVERLOADED with retry-after', async t => {
  // A 1 ms limit and a 1.5 s block: the pressure monitor's next sample (the mean delay over its
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

void t.test('a slow start is not load: the first requests after ready are served', async t => {
  // Starting held the loop for 1.5 s (as compiling the routes' schemas at ready can on a
  // loaded machine); the pressure monitor must not read that second as blocked and shed
  // what comes right after ready.
  const slowStart = fp(async (app) => {
    app.addHook('onReady', async () => {
      const until = Date.now() + 1500
      while (Date.now() < until) { /* hold the event loop */ }
    })
  })
  const server = await localServer({
    tokens: TOKEN_ENTRIES, settings: { maxEventLoopDelayMs: 1, rateLimitPerMinute: 0, version: '0.0.0-test' }, before: [slowStart], listen: false
  })
  t.teardown(() => server.close())
  await server.app.ready()
  // Time for a sample that was due during the block to run, had one been running.
  await sleep(50)
  const r = await server.app.inject({ method: 'GET', url: '/v1/vms', headers: bearer(TOKENS.operatorA) })
  t.equal(r.statusCode, 200, 'served')
  t.equal(server.app.shedding.requests, 0, 'nothing shed')
})

void t.test('a shed request is one warn line with no stack, and is counted', async t => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const app = await build(t, { settings: { maxEventLoopDelayMs: 1 }, loggerInstance: pino(loggerOptions('info'), sink) })
  t.equal(app.shedding.requests, 0)
  const until = Date.now() + 1500
  while (Date.now() < until) { /* hold the event loop */ }
  const isUnderPressure = (app as unknown as { isUnderPressure: () => boolean }).isUnderPressure
  for (let i = 0; i < 300 && !isUnderPressure(); i++) await sleep(10)
  const r = await app.inject({ method: 'GET', url: '/v1/vms', headers: bearer(TOKENS.operatorA) })
  t.equal(r.statusCode, 503)
  t.equal(r.json().message, 'the server is under pressure: retry later')
  t.equal(r.headers['retry-after'], '5')
  t.equal(app.shedding.requests, 1)
  const logged = lines.map(l => JSON.parse(l) as { level: number, msg?: string, err?: unknown })
  const shed = logged.filter(l => l.msg?.includes('under pressure') === true)
  t.equal(shed.length, 1)
  t.equal(shed[0]?.level, 40, 'warn')
  t.notOk(lines.some(l => l.includes('"stack"')), 'no stack anywhere')
  t.notOk(logged.some(l => l.level >= 50), 'nothing at error')
})

void t.test('/metrics reads the shed count', async t => {
  // No pressure here (a loaded machine must not shed the scrape): the count is set as the
  // pressure hook would have left it.
  const app = await build(t)
  app.shedding.requests = 3
  const m = await app.inject({ url: '/metrics', headers: bearer(TOKENS.admin) })
  t.equal(m.statusCode, 200)
  t.match(m.body, /^faultline_requests_shed_total 3$/m)
})

import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, defaultMaxConnections, loadConfig } from '../src/config.js'

void t.test('defaults', async t => {
  const c = loadConfig({})
  t.match(c, {
    host: '127.0.0.1', port: 8080, tokens: { kind: 'generate' }, bodyLimit: 1048576, rateLimitPerMinute: 6000,
    limits: { maxVcpus: 256, maxMemslots: 32, maxProgramOps: 10000, maxVmsPerTenant: 100, journalEvents: 10000, journalBytes: 4194304, runBudget: 1024, maxExtentsPerVm: 65536, maxVms: 1000 }
  })
  t.ok(c.dataDir.endsWith('/data'))
})

void t.test('every limit is read from the environment', async t => {
  const c = loadConfig({
    HOST: '0.0.0.0', PORT: '9000', FAULTLINE_MAX_VCPUS: '8', FAULTLINE_MAX_MEMSLOTS: '4', FAULTLINE_MAX_PROGRAM_OPS: '50',
    FAULTLINE_MAX_VMS_PER_TENANT: '3', FAULTLINE_JOURNAL_EVENTS: '100', FAULTLINE_RUN_BUDGET: '64', FAULTLINE_BODY_LIMIT: '4096',
    FAULTLINE_JOURNAL_BYTES: '100000', FAULTLINE_MAX_EXTENTS_PER_VM: '5000', FAULTLINE_MAX_VMS: '7',
    FAULTLINE_WS_MAX_PAYLOAD: '2048', FAULTLINE_RATE_LIMIT: '0', FAULTLINE_MAX_EVENT_LOOP_DELAY_MS: '0', FAULTLINE_TOKEN: 'a-long-enough-token', LOG_LEVEL: 'warn'
  })
  t.match(c, {
    host: '0.0.0.0', port: 9000, bodyLimit: 4096, wsMaxPayload: 2048, rateLimitPerMinute: 0, maxEventLoopDelayMs: 0, logLevel: 'warn',
    limits: { maxVcpus: 8, maxMemslots: 4, maxProgramOps: 50, maxVmsPerTenant: 3, journalEvents: 100, journalBytes: 100000, runBudget: 64, maxExtentsPerVm: 5000, maxVms: 7 },
    tokens: { kind: 'env', entries: [{ token: 'a-long-enough-token', tenant: 'default', role: 'admin' }] }
  })
})

void t.test('bad values stop the start with every problem named', async t => {
  const err = t.throws(() => loadConfig({ PORT: 'eighty', FAULTLINE_MAX_VCPUS: '300', FAULTLINE_BODY_LIMIT: '-1', LOG_LEVEL: 'loud', FAULTLINE_TOKEN: 'short' })) as ConfigError
  t.type(err, ConfigError)
  t.equal(err.problems.length, 5)
  t.match(err.message, /PORT="eighty": must be an integer from 0 to 65535/)
  t.match(err.message, /FAULTLINE_MAX_VCPUS="300": must be an integer from 1 to 256/)
  t.match(err.message, /FAULTLINE_BODY_LIMIT/)
  t.match(err.message, /LOG_LEVEL/)
  t.match(err.message, /FAULTLINE_TOKEN: must be at least 16/)
  t.throws(() => loadConfig({ FAULTLINE_TOKEN: 'a-long-enough-token', FAULTLINE_TOKENS_FILE: '/x' }), { message: /both set/ })
  t.throws(() => loadConfig({ FAULTLINE_MAX_VCPUS: '1.5' }), { message: /FAULTLINE_MAX_VCPUS/ })
})

void t.test('a tokens file is read and checked', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-cfg-'))
  const good = join(dir, 'tokens.json')
  writeFileSync(good, JSON.stringify([{ token: 'tenant-a-operator-1', tenant: 'a', role: 'operator' }]))
  t.match(loadConfig({ FAULTLINE_TOKENS_FILE: good }).tokens, { kind: 'file', path: good, entries: [{ tenant: 'a', role: 'operator' }] })
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, '[{"token":"x","tenant":"a","role":"operator"}]')
  t.throws(() => loadConfig({ FAULTLINE_TOKENS_FILE: bad }), { message: /bad\.json\[0\]\.token/ })
  t.throws(() => loadConfig({ FAULTLINE_TOKENS_FILE: join(dir, 'missing.json') }), { message: /cannot read .*ENOENT/ })
})

void t.test('the stream settings are read from the environment, defaults from the stream', async t => {
  t.same(loadConfig({}).stream, { heartbeatMs: 30_000, maxBufferedBytes: 4 * 1024 * 1024, maxSubscriptions: 1024, observerFlushMs: 5, pollUs: 200, maxSocketsPerToken: 64 })
  const c = loadConfig({
    FAULTLINE_WS_HEARTBEAT_MS: '5000', FAULTLINE_WS_MAX_BUFFERED_BYTES: '65536', FAULTLINE_WS_MAX_SUBSCRIPTIONS: '8', FAULTLINE_WS_OBSERVER_FLUSH_MS: '0', FAULTLINE_WS_POLL_US: '0'
  })
  t.same(c.stream, { heartbeatMs: 5000, maxBufferedBytes: 65536, maxSubscriptions: 8, observerFlushMs: 0, pollUs: 0, maxSocketsPerToken: 64 })
  t.equal(loadConfig({ FAULTLINE_WS_HEARTBEAT_MS: '0' }).stream.heartbeatMs, 0, '0 turns heartbeats off')
})

void t.test('bad stream settings stop the start, each named with its range', async t => {
  const err = t.throws(() => loadConfig({
    FAULTLINE_WS_HEARTBEAT_MS: '10', FAULTLINE_WS_MAX_BUFFERED_BYTES: '1024', FAULTLINE_WS_MAX_SUBSCRIPTIONS: '0', FAULTLINE_WS_OBSERVER_FLUSH_MS: 'soon'
  })) as ConfigError
  t.equal(err.problems.length, 4)
  t.match(err.message, /FAULTLINE_WS_HEARTBEAT_MS="10": must be an integer 0 \(off\) or from 1000 to 3600000/)
  t.match(err.message, /FAULTLINE_WS_MAX_BUFFERED_BYTES="1024": must be an integer from 65536 to 1073741824/)
  t.match(err.message, /FAULTLINE_WS_MAX_SUBSCRIPTIONS="0": must be an integer from 1 to 1000000/)
  t.match(err.message, /FAULTLINE_WS_OBSERVER_FLUSH_MS="soon": must be an integer from 0 to 1000/)
  t.throws(() => loadConfig({ FAULTLINE_WS_HEARTBEAT_MS: '3600001' }), { message: /FAULTLINE_WS_HEARTBEAT_MS/ })
  t.throws(() => loadConfig({ FAULTLINE_WS_OBSERVER_FLUSH_MS: '1001' }), { message: /FAULTLINE_WS_OBSERVER_FLUSH_MS/ })
  t.throws(() => loadConfig({ FAULTLINE_WS_POLL_US: '1001' }), { message: /FAULTLINE_WS_POLL_US="1001": must be an integer from 0 to 1000/ })
  t.throws(() => loadConfig({ FAULTLINE_WS_POLL_US: '-1' }), { message: /FAULTLINE_WS_POLL_US/ })
})

void t.test('connection limits: the cap defaults to the open-files limit less a reserve', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-limits-'))
  const limits = (soft: string): string => {
    const p = join(dir, `limits-${soft}`)
    writeFileSync(p, `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 1048576              files\n`)
    return p
  }
  t.equal(defaultMaxConnections(limits('1024')), 768)
  t.equal(defaultMaxConnections(limits('100')), 32, 'never below 32')
  t.equal(defaultMaxConnections(limits('1048576')), 65536, 'at most 65536')
  t.equal(defaultMaxConnections(limits('unlimited')), 65536)
  t.equal(defaultMaxConnections(join(dir, 'missing')), 4096, 'a fixed default where the limit cannot be read')
  const c = loadConfig({ FAULTLINE_MAX_CONNECTIONS: '100', FAULTLINE_IDLE_TIMEOUT_MS: '500', FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN: '3' })
  t.match(c, { maxConnections: 100, idleTimeoutMs: 500, stream: { maxSocketsPerToken: 3 } })
  t.match(loadConfig({}), { idleTimeoutMs: 10_000, stream: { maxSocketsPerToken: 64 } })
  const err = t.throws(() => loadConfig({ FAULTLINE_MAX_CONNECTIONS: '0', FAULTLINE_IDLE_TIMEOUT_MS: '10' })) as ConfigError
  t.equal(err.problems.length, 2)
})

import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../src/config.js'

void t.test('defaults', async t => {
  const c = loadConfig({})
  t.match(c, {
    host: '127.0.0.1', port: 8080, tokens: { kind: 'generate' }, bodyLimit: 1048576, rateLimitPerMinute: 6000,
    limits: { maxVcpus: 256, maxMemslots: 32, maxProgramOps: 10000, maxVmsPerTenant: 100, journalEvents: 10000, runBudget: 4096 }
  })
  t.ok(c.dataDir.endsWith('/data'))
})

void t.test('every limit is read from the environment', async t => {
  const c = loadConfig({
    HOST: '0.0.0.0', PORT: '9000', FAULTLINE_MAX_VCPUS: '8', FAULTLINE_MAX_MEMSLOTS: '4', FAULTLINE_MAX_PROGRAM_OPS: '50',
    FAULTLINE_MAX_VMS_PER_TENANT: '3', FAULTLINE_JOURNAL_EVENTS: '100', FAULTLINE_RUN_BUDGET: '64', FAULTLINE_BODY_LIMIT: '4096',
    FAULTLINE_WS_MAX_PAYLOAD: '2048', FAULTLINE_RATE_LIMIT: '0', FAULTLINE_MAX_EVENT_LOOP_DELAY_MS: '0', FAULTLINE_TOKEN: 'a-long-enough-token', LOG_LEVEL: 'warn'
  })
  t.match(c, {
    host: '0.0.0.0', port: 9000, bodyLimit: 4096, wsMaxPayload: 2048, rateLimitPerMinute: 0, maxEventLoopDelayMs: 0, logLevel: 'warn',
    limits: { maxVcpus: 8, maxMemslots: 4, maxProgramOps: 50, maxVmsPerTenant: 3, journalEvents: 100, runBudget: 64 },
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

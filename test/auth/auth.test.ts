import t from 'tap'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAuth, findDigest, parseBearer, sha256 } from '../../src/auth/index.js'
import { resolveTokens } from '../../src/auth/bootstrap.js'
import { parseTokensFile, TokenConfigError } from '../../src/auth/tokens.js'
import { canChange, canControl, canSeeTenant } from '../../src/auth/roles.js'
import { build, bearer, TOKENS } from '../helper.js'

void t.test('missing, malformed and unknown tokens are 401 FAULTLINE_UNAUTHORIZED', async t => {
  const app = await build(t)
  for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer' }, { authorization: 'Bearer nope-not-a-token' }, { authorization: `Bearer ${TOKENS.admin}x` }]) {
    for (const url of ['/v1/vms', '/v1/presets', '/metrics']) {
      const r = await app.inject({ url, headers })
      t.equal(r.statusCode, 401, `${url} ${JSON.stringify(headers)}`)
      t.match(r.json(), { statusCode: 401, code: 'FAULTLINE_UNAUTHORIZED', error: 'Unauthorized' })
    }
  }
  t.equal((await app.inject({ url: '/v1/vms', headers: { authorization: `bearer ${TOKENS.admin}` } })).statusCode, 200, 'the scheme is case-insensitive')
  for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs']) {
    t.ok((await app.inject({ url })).statusCode < 400, `${url} is public`)
  }
})

void t.test('a WebSocket upgrade may carry the token as the bearer.<token> subprotocol', async t => {
  const app = await build(t)
  const r = await app.inject({ url: '/v1/vms', headers: { 'sec-websocket-protocol': `faultline.v1, bearer.${TOKENS.observerA}` } })
  t.equal(r.statusCode, 200)
  t.equal((await app.inject({ url: '/v1/vms', headers: { 'sec-websocket-protocol': 'faultline.v1, bearer.' } })).statusCode, 401)
})

void t.test('authenticate maps tokens to principals without exposing the token', async t => {
  const auth = createAuth([{ token: 'aaaaaaaaaaaaaaaa', tenant: 'x', role: 'observer' }, { token: 'bbbbbbbbbbbbbbbb', tenant: 'y', role: 'operator' }])
  const p = auth.authenticate('bbbbbbbbbbbbbbbb')
  t.match(p, { tenant: 'y', role: 'operator', id: /^[0-9a-f]{16}$/ })
  t.notOk(JSON.stringify(p).includes('bbbb'))
  t.equal(auth.authenticate('aaaaaaaaaaaaaaa'), null)
  t.equal(auth.authenticate(''), null)
  t.equal(auth.bearer('Bearer  tok '), 'tok')
  t.equal(parseBearer(undefined), null)
})

void t.test('a token seen before maps to the same principal, and near misses stay unknown', async t => {
  const auth = createAuth([{ token: 'aaaaaaaaaaaaaaaa', tenant: 'x', role: 'observer' }, { token: 'bbbbbbbbbbbbbbbb', tenant: 'y', role: 'operator' }])
  const first = auth.authenticate('aaaaaaaaaaaaaaaa')
  t.equal(auth.authenticate('aaaaaaaaaaaaaaaa'), first, 'the remembered principal')
  t.equal(auth.authenticate('aaaaaaaaaaaaaaaab'), null, 'a longer token is not the remembered one')
  t.equal(auth.authenticate('aaaaaaaaaaaaaaab'), null)
  t.match(auth.authenticate('bbbbbbbbbbbbbbbb'), { tenant: 'y' }, 'the other token still proves its own tenant')
  t.match(auth.authenticate('aaaaaaaaaaaaaaaa'), { tenant: 'x' })
})

void t.test('the constant-time compare checks every digest and finds the first match', async t => {
  const ds = ['a', 'b', 'a'].map(sha256)
  t.equal(findDigest('a', ds), 0)
  t.equal(findDigest('b', ds), 1)
  t.equal(findDigest('c', ds), -1)
  t.equal(findDigest('a', []), -1)
  t.equal(sha256('x').length, 32, 'both sides are 32 bytes whatever the token length')
})

void t.test('roles: admin and operator change, observer only reads; admin sees all tenants', async t => {
  const admin = { tenant: 'o', role: 'admin' as const, id: '1' }
  const op = { tenant: 'a', role: 'operator' as const, id: '2' }
  const obs = { tenant: 'a', role: 'observer' as const, id: '3' }
  t.ok(canChange(admin) && canChange(op) && !canChange(obs))
  t.ok(canControl(op) && !canControl(obs))
  t.ok(canSeeTenant(admin, 'z') && canSeeTenant(op, 'a') && !canSeeTenant(op, 'b') && canSeeTenant(obs, 'a'))
})

void t.test('the tokens file is validated entry by entry', async t => {
  t.same(parseTokensFile('[{"token":"0123456789abcdef","tenant":"t1","role":"observer"}]'), [{ token: '0123456789abcdef', tenant: 't1', role: 'observer' }])
  const bad: [string, RegExp][] = [
    ['not json', /not valid JSON/],
    ['{}', /non-empty JSON array/],
    ['[]', /non-empty JSON array/],
    ['[1]', /\[0\]: must be an object/],
    ['[{"token":"short","tenant":"t","role":"admin"}]', /\[0\]\.token/],
    ['[{"token":"0123456789abcdef","tenant":"t t","role":"admin"}]', /\[0\]\.tenant/],
    ['[{"token":"0123456789abcdef","tenant":"t","role":"root"}]', /\[0\]\.role/],
    ['[{"token":"0123456789abcdef","tenant":"t","role":"admin","extra":1}]', /unknown field "extra"/],
    ['[{"token":"0123456789abcdef","tenant":"t","role":"admin"},{"token":"0123456789abcdef","tenant":"u","role":"admin"}]', /\[1\]\.token: the same token/]
  ]
  for (const [text, msg] of bad) t.throws(() => parseTokensFile(text), msg instanceof RegExp ? { name: 'TokenConfigError', message: msg } : TokenConfigError, text)
})

void t.test('with no tokens configured an admin token is made, printed once and written 0600', async t => {
  const dir = join(mkdtempSync(join(tmpdir(), 'faultline-')), 'nested', 'data')
  const printed: string[] = []
  const entries = resolveTokens({ tokens: { kind: 'generate' }, dataDir: dir }, l => printed.push(l))
  t.equal(entries.length, 1)
  const token = entries[0]?.token ?? ''
  t.ok(token.length >= 32)
  t.equal(printed.length, 1)
  t.ok(printed[0]?.includes(token))
  const file = join(dir, 'token')
  t.equal(readFileSync(file, 'utf8').trim(), token)
  t.equal(statSync(file).mode & 0o777, 0o600)
  const app = await build(t, { tokens: entries })
  t.equal((await app.inject({ url: '/v1/vms', headers: bearer(token) })).statusCode, 200, 'the generated token works')
  t.same(resolveTokens({ tokens: { kind: 'env', entries: [] }, dataDir: dir }, () => t.fail('prints nothing')), [])
})

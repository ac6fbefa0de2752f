// The dashboard route: the page and its assets, public, under a strict CSP; a missing build
// is a 503 that says how to make it. The page itself is tested in test/e2e/dashboard.test.ts.
import t from 'tap'
import type { Test } from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import dashboardRoutes, { contentSecurityPolicy, defaultDashboardRoot } from '../../routes/dashboard.js'
import { errorHandler } from '../../src/error-handler.js'
import { build, bearer, TOKENS } from '../helper.js'

async function serve (t: Test, root: string): Promise<FastifyInstance> {
  const app = Fastify()
  app.setErrorHandler(errorHandler)
  await app.register(dashboardRoutes, { root })
  t.teardown(() => app.close())
  return app
}

const FIXTURE = {
  'index.html': '<!doctype html><title>x</title><script type="module" src="assets/app.js"></script>',
  assets: { 'app.js': 'export {}\n', 'app.css': 'body{}\n' }
}

void t.test('the page and its assets are served with the policy', async t => {
  const app = await serve(t, t.testdir(FIXTURE))
  const page = await app.inject({ url: '/', headers: { host: 'dash.example:8080' } })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /<title>x<\/title>/)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/)
  t.match(csp, /style-src 'self'(;|$)/)
  t.match(csp, /connect-src 'self' ws:\/\/dash\.example:8080 wss:\/\/dash\.example:8080/)
  t.match(csp, /frame-ancestors 'none'/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval/)
  t.equal(page.headers['x-content-type-options'], 'nosniff')

  const js = await app.inject({ url: '/assets/app.js' })
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /javascript/)
  t.ok(js.headers['content-security-policy'])
  t.equal((await app.inject({ url: '/assets/app.css' })).statusCode, 200)
})

void t.test('unknown or crafted asset names are 404, never a file outside assets/', async t => {
  const root = t.testdir({ ...FIXTURE, 'secret.txt': 'no' })
  const app = await serve(t, root)
  for (const url of ['/assets/missing.js', '/assets/..%2Fsecret.txt', '/assets/.hidden', '/assets/%2e%2e%2fsecret.txt']) {
    const r = await app.inject({ url })
    t.equal(r.statusCode, 404, url)
    t.notMatch(r.body, /^no$/)
  }
  t.match((await app.inject({ url: '/assets/missing.js' })).json(), { code: 'FAULTLINE_NOT_FOUND' })
})

void t.test('without a build, / says how to make one', async t => {
  const app = await serve(t, t.testdir({}))
  const r = await app.inject({ url: '/' })
  t.equal(r.statusCode, 503)
  t.match(r.json(), { code: 'FAULTLINE_NOT_READY', message: /npm run build/ })
})

void t.test('a Host header that is not a plain host never enters the policy', async t => {
  t.match(contentSecurityPolicy('127.0.0.1:8080'), /connect-src 'self' ws:\/\/127\.0\.0\.1:8080 wss:\/\/127\.0\.0\.1:8080;/)
  t.match(contentSecurityPolicy('[::1]:8080'), /ws:\/\/\[::1\]:8080/)
  for (const host of [undefined, "x; script-src 'unsafe-inline'", 'a b', 'evil.example/path']) {
    t.match(contentSecurityPolicy(host), /connect-src 'self';/, String(host))
  }
})

void t.test('in the app, the page is public and the API still is not', async t => {
  t.match(defaultDashboardRoot(), /dist[/\\]web$/)
  const app = await build(t)
  const page = await app.inject({ url: '/' })
  // 200 with a build in dist/web, 503 without: never 401.
  t.ok([200, 503].includes(page.statusCode), `GET / is ${page.statusCode}`)
  t.equal((await app.inject({ url: '/v1/vms' })).statusCode, 401)
  t.equal((await app.inject({ url: '/v1/vms', headers: bearer(TOKENS.observerA) })).statusCode, 200)
  t.match((await app.inject({ url: '/no/such/route' })).json(), { statusCode: 404, code: 'FAULTLINE_NOT_FOUND' })
  const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> }
  t.notOk(doc.paths['/'], 'the page is not part of the API document')
})

// The web dashboard (docs/dashboard.md): the page at `/` and its bundled assets from
// dist/web, public (the page signs in with a token itself), under a strict CSP.
import { existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fastifyStatic from '@fastify/static'
import { FaultlineError } from '../src/errors.js'

export interface DashboardOptions {
  /** The built dashboard (index.html, assets/). Default: dist/web of this checkout. */
  root?: string
}

/** dist/web seen from this file: compiled it sits in dist/routes, from source in routes/. */
export function defaultDashboardRoot (): string {
  const routesDir = dirname(fileURLToPath(import.meta.url))
  const parent = dirname(routesDir)
  return basename(parent) === 'dist' ? join(parent, 'web') : join(parent, 'dist', 'web')
}

// A Host header is client input: only a plain host[:port] may enter the policy.
const PLAIN_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/

/** The page's policy: its own scripts, styles and API only, and the stream on the same host. */
export function contentSecurityPolicy (host: string | undefined): string {
  // 'self' covers ws: for the same host in CSP 3 browsers; older ones need it named.
  const sockets = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : ''
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'"
  ].join('; ')
}

const ASSET_NAME = /^[\w-]+(\.[\w-]+)*$/

function secure (req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', contentSecurityPolicy(req.headers.host))
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
}

const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const root = opts.root ?? defaultDashboardRoot()
  const assets = join(root, 'assets')
  await app.register(fastifyStatic, { root, serve: false })
  const hidden = { hide: true }

  app.get('/', { config: { public: true }, schema: hidden }, async (req, reply) => {
    // Checked per request so that a build made after start is served without a restart.
    if (!existsSync(join(root, 'index.html'))) throw new FaultlineError('NOT_READY', 'the server is without its dashboard: run `npm run build`')
    return secure(req, reply).sendFile('index.html', root)
  })

  app.get<{ Params: { file: string } }>('/assets/:file', { config: { public: true }, schema: hidden }, async (req, reply) => {
    const file = req.params.file
    if (!ASSET_NAME.test(file) || !existsSync(join(assets, file))) throw new FaultlineError('NOT_FOUND', `no route GET /assets/${file}`)
    return secure(req, reply).sendFile(file, assets)
  })
}

export default dashboardRoutes

// Tokens and the Bearer check: `app.auth`, `request.principal`, and the onRequest hook that
// refuses every non-public route without a valid token.
import fp from 'fastify-plugin'
import type { Auth } from '../auth/index.js'
import { authHook } from '../auth/hook.js'

export interface AuthPluginOptions { auth: Auth }

export default fp<AuthPluginOptions>(async (app, opts) => {
  app.decorate('auth', opts.auth)
  app.decorateRequest('principal', null)
  app.addHook('onRequest', authHook(opts.auth))
}, { name: 'faultline-auth', fastify: '5.x' })

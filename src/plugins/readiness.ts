// Whether the app serves, for /readyz: starting until ready, closing once close begins.
import fp from 'fastify-plugin'

export default fp(async (app) => {
  const r: { phase: 'starting' | 'ready' | 'closing' } = { phase: 'starting' }
  app.decorate('readiness', r)
  app.addHook('onReady', async () => { r.phase = 'ready' })
  app.addHook('preClose', async () => { r.phase = 'closing' })
}, { name: 'faultline-readiness', fastify: '5.x' })

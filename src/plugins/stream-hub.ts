// Every stream socket of the app, as `app.streamHub` (routes/stream.ts opens sessions on
// it, /metrics reads its counts). Registered before @fastify/websocket: root preClose hooks
// run in the order added, so the hub closes its sockets with 1001 (going away), flushing
// what they have queued, before the websocket plugin would close them with no code (1005).
import fp from 'fastify-plugin'
import { StreamHub } from '../stream/hub.js'
import { streamOptions } from '../stream/options.js'

export default fp(async (app) => {
  const hub = new StreamHub(app.control, streamOptions({ version: app.faultline.version }, app.faultline.stream), app.log)
  app.decorate('streamHub', hub)
  app.addHook('preClose', async () => { await hub.close() })
}, { name: 'faultline-stream-hub', fastify: '5.x', dependencies: ['faultline-control', 'faultline-settings'] })

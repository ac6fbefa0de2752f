// The single owner of every VM, as `app.control`; its scheduler and timers stop when the
// app closes (the VMs stay as they are).
import fp from 'fastify-plugin'
import type { Control } from '../control/index.js'

export interface ControlPluginOptions { control: Control }

export default fp<ControlPluginOptions>(async (app, opts) => {
  app.decorate('control', opts.control)
  // Whatever a response reports is in the store before it leaves (docs/storage.md).
  app.addHook('onSend', (_req, _reply, payload, done) => { opts.control.commit(); done(null, payload) })
  app.addHook('onClose', async () => { opts.control.close() })
}, { name: 'faultline-control', fastify: '5.x' })

// The single owner of every VM, as `app.control`; its scheduler and timers stop when the
// app closes (the VMs stay as they are).
import fp from 'fastify-plugin'
import type { Control } from '../control/index.js'

export interface ControlPluginOptions { control: Control }

export default fp<ControlPluginOptions>(async (app, opts) => {
  app.decorate('control', opts.control)
  app.addHook('onClose', async () => { opts.control.close() })
}, { name: 'faultline-control', fastify: '5.x' })

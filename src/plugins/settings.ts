// The limits and settings the app was built with, as `app.faultline`.
import fp from 'fastify-plugin'
import type { AppSettings } from '../app-types.js'

export interface SettingsPluginOptions { settings: AppSettings }

export default fp<SettingsPluginOptions>(async (app, opts) => {
  app.decorate('faultline', opts.settings)
}, { name: 'faultline-settings', fastify: '5.x' })

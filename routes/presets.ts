// The built-in guest programs.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors, Page } from '../schemas/common.js'
import { PresetView } from '../schemas/vm.js'

const presetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const body = { items: app.control.presets(), next: null }
  app.get('/presets', {
    schema: { operationId: 'listPresets', tags: ['presets'], summary: 'The built-in guest programs', response: { 200: Page(PresetView), ...errors() } }
  }, async () => body)
}

export default presetRoutes

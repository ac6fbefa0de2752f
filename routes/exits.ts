// The exit journal and decisions over REST (the same decision the stream's controller sends).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { principalOf } from '../src/auth/hook.js'
import { errors, Page, VmParams } from '../schemas/common.js'
import { DecisionBody, ExitParams, ExitsQuery, ExitView } from '../schemas/exit.js'

const exitRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/vms/:vm/exits', {
    schema: {
      operationId: 'listExits',
      tags: ['exits'],
      summary: 'The exit journal, oldest first: each exit as the stream sends it, with its decision (null while pending)',
      params: VmParams,
      querystring: ExitsQuery,
      response: { 200: Page(ExitView), ...errors(404) }
    }
  }, async (req) => app.control.exits(principalOf(req), req.params.vm, req.query))

  app.post('/vms/:vm/exits/:exit/decision', {
    schema: {
      operationId: 'decideExit',
      tags: ['exits'],
      summary: 'Decide one pending exit (409 FAULTLINE_EXIT_NOT_PENDING if it is not pending)',
      params: ExitParams,
      body: DecisionBody,
      response: { 200: ExitView, ...errors(403, 404, 409, 413, 415, 422) }
    }
  }, async (req) => app.control.decide(principalOf(req), req.params.vm, req.params.exit, req.body, 'rest'))
}

export default exitRoutes

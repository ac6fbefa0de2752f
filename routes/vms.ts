// /v1/vms: create, list, read, delete, and lifecycle actions. Each handler is one call on
// control/; validation is the schema's, state rules are control/'s.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { principalOf } from '../src/auth/hook.js'
import { errors, Page, VmParams } from '../schemas/common.js'
import { ActionBody, CreateVmBody, ListQuery, VmView } from '../schemas/vm.js'

const vmRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/vms', {
    schema: {
      operationId: 'createVm',
      tags: ['vms'],
      summary: 'Create a VM',
      body: CreateVmBody,
      response: { 201: VmView, ...errors(403, 409, 413, 415) }
    }
  }, async (req, reply) => {
    const vm = app.control.createVm(principalOf(req), req.body)
    return reply.code(201).send(vm)
  })

  app.get('/vms', {
    schema: { operationId: 'listVms', tags: ['vms'], summary: 'List the caller\'s VMs (every tenant\'s for an admin)', querystring: ListQuery, response: { 200: Page(VmView), ...errors() } }
  }, async (req) => app.control.listVms(principalOf(req), req.query))

  app.get('/vms/:vm', {
    schema: { operationId: 'getVm', tags: ['vms'], summary: 'One VM', params: VmParams, response: { 200: VmView, ...errors(404) } }
  }, async (req) => app.control.getVm(principalOf(req), req.params.vm))

  app.delete('/vms/:vm', {
    schema: { operationId: 'deleteVm', tags: ['vms'], summary: 'Kill the VM if it is not killed, then remove it', params: VmParams, response: { 204: Type.Null({ description: 'Deleted' }), ...errors(403, 404) } }
  }, async (req, reply) => {
    app.control.deleteVm(principalOf(req), req.params.vm)
    return reply.code(204).send(null)
  })

  app.post('/vms/:vm/actions', {
    schema: {
      operationId: 'actOnVm',
      tags: ['vms'],
      summary: 'start | pause | resume | stop | kill | reset (409 FAULTLINE_INVALID_TRANSITION when the state does not allow it)',
      params: VmParams,
      body: ActionBody,
      response: { 200: VmView, ...errors(403, 404, 409, 413, 415) }
    }
  }, async (req) => app.control.act(principalOf(req), req.params.vm, req.body.action))
}

export default vmRoutes

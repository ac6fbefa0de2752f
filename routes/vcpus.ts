// vCPUs: their state and counters, and (beyond the contract) interrupt injection.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { principalOf } from '../src/auth/hook.js'
import { errors, Page, VmParams } from '../schemas/common.js'
import { VcpuInfo, VcpuParams } from '../schemas/vm.js'

const vcpuRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/vms/:vm/vcpus', {
    schema: { operationId: 'listVcpus', tags: ['vcpus'], summary: 'Each vCPU: id, state, pending exit, counters', params: VmParams, response: { 200: Page(VcpuInfo), ...errors(404) } }
  }, async (req) => ({ items: app.control.vcpus(principalOf(req), req.params.vm), next: null }))

  app.post('/vms/:vm/vcpus/:vcpu/interrupt', {
    schema: {
      operationId: 'injectInterrupt',
      tags: ['vcpus'],
      summary: 'Extension: make an interrupt pending on a vCPU (a TDX MapGPA then gets RETRY)',
      params: VcpuParams,
      response: { 200: VcpuInfo, ...errors(403, 404, 413, 415) }
    }
  }, async (req) => app.control.injectInterrupt(principalOf(req), req.params.vm, req.params.vcpu))
}

export default vcpuRoutes

// Guest memory: attribute extents (never pages, even over 1 TiB), KVM_SET_MEMORY_ATTRIBUTES
// with KVM's EINVAL rules, hwpoison, and (beyond the contract) the backing map.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { principalOf } from '../src/auth/hook.js'
import { errors, VmParams } from '../schemas/common.js'
import { AttributeExtentPage, AttributeExtents, BackingExtentPage, PoisonBody, RangeQuery, SetAttributesBody } from '../schemas/memory.js'

const memoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/vms/:vm/memory/attributes', {
    schema: {
      operationId: 'getMemoryAttributes',
      tags: ['memory'],
      summary: 'Attribute extents over [gpa, gpa+size) (whole guest by default): sorted, merged, gaps as 0; a page of `limit` at most, `next` for the rest',
      params: VmParams,
      querystring: RangeQuery,
      response: { 200: AttributeExtentPage, ...errors(400, 404) }
    }
  }, async (req) => app.control.memoryAttributes(principalOf(req), req.params.vm, req.query))

  app.put('/vms/:vm/memory/attributes', {
    schema: {
      operationId: 'setMemoryAttributes',
      tags: ['memory'],
      summary: 'KVM_SET_MEMORY_ATTRIBUTES: all or nothing; EINVAL → 400 with errno',
      params: VmParams,
      body: SetAttributesBody,
      response: { 200: AttributeExtents, ...errors(400, 403, 404, 413, 415) }
    }
  }, async (req) => ({ extents: app.control.setMemoryAttributes(principalOf(req), req.params.vm, req.body) }))

  app.post('/vms/:vm/memory/poison', {
    schema: {
      operationId: 'poisonMemory',
      tags: ['memory'],
      summary: 'Hardware-poison the guest_memfd page holding gpa',
      params: VmParams,
      body: PoisonBody,
      response: { 200: Type.Object({ gpa: Type.Integer(), poisoned: Type.Boolean() }, { additionalProperties: false }), ...errors(403, 404, 413, 415) }
    }
  }, async (req) => {
    app.control.poison(principalOf(req), req.params.vm, req.body.gpa)
    return { gpa: req.body.gpa, poisoned: true }
  })

  app.get('/vms/:vm/memory/backing', {
    schema: {
      operationId: 'getMemoryBacking',
      tags: ['memory'],
      summary: 'Extension: backing extents (populated shared / guest_memfd pages, poison) over a range; a page of `limit` at most, `next` for the rest',
      params: VmParams,
      querystring: RangeQuery,
      response: { 200: BackingExtentPage, ...errors(400, 404) }
    }
  }, async (req) => app.control.backing(principalOf(req), req.params.vm, req.query))
}

export default memoryRoutes

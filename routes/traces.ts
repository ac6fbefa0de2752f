// Exit traces (docs/traces.md): a VM's trace as NDJSON, and replays of a trace. The work is
// src/traces/'s; this plugin makes its service for the app, validates and translates.
import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { principalOf } from '../src/auth/hook.js'
import { INTEGER_VARS } from '../src/config.js'
import { errorBody } from '../src/error-handler.js'
import { FaultlineError } from '../src/errors.js'
import { TraceError } from '../src/traces/read.js'
import { Traces } from '../src/traces/service.js'
import { errors, VmParams } from '../schemas/common.js'
import { ReplayParams, ReplayQuery, ReplayView, TRACE_MEDIA_TYPE, TraceErrorBody } from '../schemas/trace.js'

/**
 * Trace bodies received at once: each may hold FAULTLINE_TRACE_MAX_BYTES in memory twice
 * (its bytes, then its text) and its parsed lines before the replay starts, so a tenant
 * that opened many uploads could hold gigabytes. Server-wide two, one per tenant; more are
 * refused at once with 503 OVERLOADED (retry), before any of their bytes are read.
 */
export const MAX_TRACE_UPLOADS = 2
export const MAX_TRACE_UPLOADS_PER_TENANT = 1

const traceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const traces = new Traces(app.control, { version: app.faultline.version })
  app.addHook('onClose', async () => { traces.close() })
  const bodyLimit = app.faultline.traceMaxBytes ?? INTEGER_VARS.FAULTLINE_TRACE_MAX_BYTES.def
  // A trace is text, read as it is: the trace's parse (src/traces/read.ts) names the line of
  // anything wrong in it, bytes that are not UTF-8 included (so it gets the bytes; the
  // schema sees their text).
  const raw = new WeakMap<object, Buffer>()
  app.addContentTypeParser(TRACE_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit }, (req, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase()
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new FaultlineError('UNSUPPORTED_MEDIA_TYPE', `a trace is UTF-8 text, not charset=${charset}`), undefined)
      return
    }
    raw.set(req, body as Buffer)
    done(null, (body as Buffer).toString('utf8'))
  })

  app.get('/vms/:vm/trace', {
    schema: {
      operationId: 'getTrace',
      tags: ['traces'],
      summary: 'The VM\'s trace so far (faultline-trace/1, NDJSON: docs/traces.md)',
      params: VmParams,
      response: {
        200: { description: 'One JSON object a line: the header, inputs and outputs in order, the end line', content: { [TRACE_MEDIA_TYPE]: { schema: Type.String() } } },
        ...errors(404)
      }
    }
  }, async (req, reply) => {
    const chunks = traces.trace(principalOf(req), req.params.vm)
    // Streamed: a trace may be megabytes, and is written as it is read.
    return reply.type(TRACE_MEDIA_TYPE).send(Readable.from(chunks) as unknown as string)
  })

  // Uploads under way: by request (so that an upload is let go once), and per tenant.
  const uploads = new Map<object, string>()
  const perTenant = new Map<string, number>()
  const letGo = (req: object): void => {
    const tenant = uploads.get(req)
    if (tenant === undefined) return
    uploads.delete(req)
    const n = (perTenant.get(tenant) ?? 1) - 1
    if (n > 0) perTenant.set(tenant, n)
    else perTenant.delete(tenant)
  }

  app.post('/replays', {
    bodyLimit,
    onRequest: (req, _reply, done) => {
      const tenant = principalOf(req).tenant
      const mine = perTenant.get(tenant) ?? 0
      if (uploads.size >= MAX_TRACE_UPLOADS || mine >= MAX_TRACE_UPLOADS_PER_TENANT) {
        const who = mine >= MAX_TRACE_UPLOADS_PER_TENANT ? 'this tenant\'s trace is' : `${uploads.size} traces are`
        done(new FaultlineError('OVERLOADED', `${who} being received already: retry when it is done`))
        return
      }
      uploads.set(req, tenant)
      perTenant.set(tenant, mine + 1)
      done()
    },
    onResponse: (req, _reply, done) => { letGo(req); done() },
    onRequestAbort: (req, done) => { letGo(req); done() },
    schema: {
      operationId: 'createReplay',
      tags: ['traces'],
      summary: 'Replay a trace: a new VM made from its header, driven by its inputs, each output compared (docs/traces.md)',
      querystring: ReplayQuery,
      body: { content: { [TRACE_MEDIA_TYPE]: { schema: Type.String({ description: 'A trace file as GET /v1/vms/{vm}/trace gave it' }) } } },
      response: { 201: ReplayView, ...errors(403, 409, 413, 415), 400: TraceErrorBody }
    }
  }, async (req, reply) => {
    if (typeof req.body !== 'string') throw new FaultlineError('UNSUPPORTED_MEDIA_TYPE', `send the trace as ${TRACE_MEDIA_TYPE}`)
    try {
      return await reply.code(201).send(await traces.createInTurns(principalOf(req), raw.get(req) ?? req.body, req.query))
    } catch (e) {
      if (!(e instanceof TraceError)) throw e
      return await reply.code(400).type('application/json; charset=utf-8').send({ ...errorBody(e), line: e.line })
    }
  })

  app.get('/replays', {
    schema: { operationId: 'listReplays', tags: ['traces'], summary: 'The caller\'s replays, oldest first', response: { 200: Type.Object({ items: Type.Array(ReplayView), next: Type.Null() }, { additionalProperties: false }), ...errors() } }
  }, async (req) => ({ items: traces.list(principalOf(req)), next: null }))

  app.get('/replays/:replay', {
    schema: { operationId: 'getReplay', tags: ['traces'], summary: 'A replay: its progress and every divergence', params: ReplayParams, response: { 200: ReplayView, ...errors(404) } }
  }, async (req) => traces.get(principalOf(req), req.params.replay))

  app.delete('/replays/:replay', {
    schema: { operationId: 'deleteReplay', tags: ['traces'], summary: 'Stop the replay if it runs and forget it (its VM stays)', params: ReplayParams, response: { 204: Type.Null({ description: 'Deleted' }), ...errors(403, 404) } }
  }, async (req, reply) => {
    traces.delete(principalOf(req), req.params.replay)
    return await reply.code(204).send(null)
  })
}

export default traceRoutes

// A stand-in for the server side of traces and replays (issue 14), on 127.0.0.1 with Fastify:
// exactly the agreed contract, GET /v1/vms/{vm}/trace, POST /v1/replays (NDJSON body) and
// GET /v1/replays/{id}, plus the few VM routes a REST controller and `record` use. A replay
// with decide=controller hands its recorded exits to the controller one at a time (GET
// .../exits?pending=true) and compares each decision with the recorded one. It is not the
// real replay engine (branch traces): once that lands, these tests should run against it.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { ReplayView } from '../../src/client/types.js'

export const FAKE_TOKEN = 'fake-replay-token'
const FORMAT = 'faultline-trace/1'

interface RecordedExit { exit: number, seq: number, decision: { action: string, ret?: number } | null, [k: string]: unknown }

interface Replay { view: ReplayView, exits: RecordedExit[], next: number }

export interface FakeReplayServer {
  url: string
  app: FastifyInstance
  /** Every POST /v1/replays query, in order. */
  queries: Array<Record<string, string>>
  /** VMs `record` can read: id → [states GET /v1/vms/{vm} walks through, trace text]. */
  vms: Map<string, { states: string[], trace: string }>
}

const error = (statusCode: number, code: string, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ statusCode, code, error: statusCode === 404 ? 'Not Found' : 'Bad Request', message, ...extra })

export async function startFakeReplayServer (): Promise<FakeReplayServer> {
  const app = Fastify({ logger: false })
  const replays = new Map<string, Replay>()
  const byVm = new Map<string, Replay>()
  const queries: Array<Record<string, string>> = []
  const vms = new Map<string, { states: string[], trace: string }>()
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`) await reply.code(401).send(error(401, 'FAULTLINE_UNAUTHORIZED', 'no token'))
  })

  app.post('/v1/replays', async (req, reply) => {
    const query = req.query as Record<string, string>
    queries.push(query)
    const lines = String(req.body).split('\n').filter((l) => l.trim() !== '')
    const parsed: unknown[] = []
    for (const [i, line] of lines.entries()) {
      try { parsed.push(JSON.parse(line)) } catch { return await reply.code(400).send(error(400, 'FAULTLINE_BAD_TRACE', `line ${i + 1} is not JSON`, { line: i + 1 })) }
    }
    if ((parsed[0] as { format?: string } | undefined)?.format !== FORMAT) {
      return await reply.code(400).send(error(400, 'FAULTLINE_BAD_TRACE', `not a ${FORMAT} trace`, { line: 1 }))
    }
    const exits = parsed.slice(1).filter((r): r is RecordedExit => (r as { type?: string }).type === 'exit')
    const n = replays.size + 1
    const decide = query.decide === 'recorded' ? 'recorded' : 'controller'
    const view: ReplayView = {
      id: `rp_${n}`,
      vm: `vm_replay${n}`,
      state: decide === 'recorded' || exits.length === 0 ? 'passed' : 'waiting',
      decide,
      on_divergence: (query.on_divergence ?? 'continue') as ReplayView['on_divergence'],
      exits: { recorded: exits.length, replayed: decide === 'recorded' ? exits.length : 0 },
      decisions: { recorded: exits.length, compared: decide === 'recorded' ? exits.length : 0 },
      divergences: [],
      created_at: new Date().toISOString(),
      finished_at: null
    }
    // A trace that asks never to finish (to test time limits).
    if ((parsed[0] as { hang?: boolean }).hang === true) view.state = 'running'
    const replay = { view, exits, next: decide === 'recorded' ? exits.length : 0 }
    replays.set(view.id, replay)
    byVm.set(view.vm, replay)
    return await reply.code(201).send(view)
  })

  app.get('/v1/replays/:id', async (req, reply) => {
    const r = replays.get((req.params as { id: string }).id)
    if (r === undefined) return await reply.code(404).send(error(404, 'FAULTLINE_NOT_FOUND', 'no such replay'))
    return r.view
  })

  app.get('/v1/vms', async () => ({ items: [], next: null }))

  app.get('/v1/vms/:vm', async (req, reply) => {
    const id = (req.params as { vm: string }).vm
    const replay = byVm.get(id)
    if (replay !== undefined) {
      const done = replay.view.state !== 'waiting' && replay.view.state !== 'running'
      return { id, type: 'tdx', state: done ? 'stopped' : 'running', memslots: [{ slot: 0, gpa: 0, size: 2 ** 30, guest_memfd: true }] }
    }
    const vm = vms.get(id)
    if (vm === undefined) return await reply.code(404).send(error(404, 'FAULTLINE_VM_NOT_FOUND', `no VM ${id}`))
    // Each look moves the VM one state on, and stays at the last.
    const state = vm.states.length > 1 ? vm.states.shift() : vm.states[0]
    return { id, type: 'tdx', state, memslots: [] }
  })

  app.get('/v1/vms/:vm/trace', async (req, reply) => {
    const vm = vms.get((req.params as { vm: string }).vm)
    if (vm === undefined) return await reply.code(404).send(error(404, 'FAULTLINE_VM_NOT_FOUND', 'no such VM'))
    return await reply.type('application/x-ndjson').send(vm.trace)
  })

  app.get('/v1/vms/:vm/exits', async (req) => {
    const replay = byVm.get((req.params as { vm: string }).vm)
    const next = replay === undefined ? undefined : replay.exits[replay.next]
    if (replay === undefined || next === undefined || replay.view.state === 'stopped' || replay.view.state === 'passed' || replay.view.state === 'diverged') {
      return { items: [], next: null }
    }
    if (replay.view.state === 'waiting') replay.view.state = 'running'
    return { items: [{ ...next, type: undefined, decision: null }], next: null }
  })

  app.post('/v1/vms/:vm/exits/:exit/decision', async (req, reply) => {
    const replay = byVm.get((req.params as { vm: string }).vm)
    const rec = replay?.exits[replay.next]
    if (replay === undefined || rec === undefined || rec.exit !== Number((req.params as { exit: string }).exit)) {
      return await reply.code(409).send(error(409, 'FAULTLINE_EXIT_NOT_PENDING', 'not pending'))
    }
    const body = req.body as { action: string }
    const v = replay.view
    v.decisions.compared++
    v.exits.replayed++
    if (rec.decision?.action !== body.action) {
      v.divergences.push({ kind: 'DECISION_DIVERGED', exit: rec.exit, seq: rec.seq, recorded: rec.decision, actual: body })
      if (v.on_divergence === 'stop') v.state = 'stopped'
    }
    replay.next++
    if (v.state !== 'stopped' && replay.next >= replay.exits.length) v.state = v.divergences.length > 0 ? 'diverged' : 'passed'
    if (v.state !== 'running') v.finished_at = new Date().toISOString()
    return { ...rec, decision: { ...body, by: 'rest', seq: rec.seq + 1 } }
  })

  await app.listen({ host: '127.0.0.1', port: 0 })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('not listening on TCP')
  return { url: `http://127.0.0.1:${addr.port}`, app, queries, vms }
}

/** A trace as the fake reads it: the header, then exits with their recorded decisions. */
export function traceText (exits: Array<Record<string, unknown>>, header: Record<string, unknown> = {}): string {
  return [{ format: FORMAT, ...header }, ...exits].map((r) => JSON.stringify(r)).join('\n') + '\n'
}

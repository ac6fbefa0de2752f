// The test suite's guard against drift between what the server sends and the contract in
// schemas/: every REST response is checked against its route's response schema (and its
// status must be one the route documents), and every stream frame a test client receives
// against the stream's message schemas. A violation fails the request or the wait that
// met it, with what was wrong.
import fp from 'fastify-plugin'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { ServerMessage } from '../schemas/stream.js'

type Check = ReturnType<typeof Compile<TSchema>>

/** A Fastify plugin, registered before the app's routes, that checks each response. */
export const responseContract = fp(async (app) => {
  const byRoute = new Map<string, Map<number, Check>>()
  app.addHook('onRoute', (route) => {
    const response = (route.schema as { response?: Record<string, TSchema> } | undefined)?.response
    if (response === undefined) return
    const checks = new Map<number, Check>()
    // A schema given per media type ({ content: { type: { schema } } }) is for text answers
    // (/metrics): only its status is checked.
    for (const [status, schema] of Object.entries(response)) checks.set(Number(status), Compile('content' in schema ? {} : schema))
    for (const method of [route.method].flat()) byRoute.set(`${method} ${route.url}`, checks)
  })
  // Before serialization too: the schema-compiled serializer coerces a wrong type and drops an
  // unknown field, so the object control/ built is checked as it was, not only as sent.
  app.addHook('preSerialization', async (req, reply, payload: unknown) => {
    const check = byRoute.get(`${req.method} ${req.routeOptions.url ?? ''}`)?.get(reply.statusCode)
    if (check === undefined || typeof payload !== 'object' || payload === null || check.Check(payload)) return payload
    const problem = [...check.Errors(payload)].slice(0, 3).map(e => `${e.instancePath} ${e.message}`).join('; ')
    void reply.code(500).serializer((x: unknown) => JSON.stringify(x))
    return { contractViolation: `${req.method} ${req.url} → ${reply.statusCode} (before serialization): ${problem}`, body: payload }
  })
  app.addHook('onSend', async (req, reply, payload) => {
    const checks = byRoute.get(`${req.method} ${req.routeOptions.url ?? ''}`)
    if (checks === undefined) return payload
    const status = reply.statusCode
    const check = checks.get(status)
    let problem: string | undefined
    if (check === undefined) {
      problem = `status ${status} is not among the documented ${[...checks.keys()].join(', ')}`
    } else if (status !== 204 && typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('application/json')) {
      const body: unknown = JSON.parse(payload)
      if (!check.Check(body)) problem = [...check.Errors(body)].slice(0, 3).map(e => `${e.instancePath} ${e.message}`).join('; ')
    }
    if (problem === undefined) return payload
    void reply.code(500)
    return JSON.stringify({ contractViolation: `${req.method} ${req.url} → ${status}: ${problem}`, body: payload })
  })
}, { name: 'test-response-contract' })

const serverMessage = Compile(ServerMessage)

/** Why a stream frame breaks the contract, or undefined when it keeps it. */
export function frameViolation (frame: unknown): string | undefined {
  if (serverMessage.Check(frame)) return undefined
  return `${JSON.stringify(frame).slice(0, 300)}: ${[...serverMessage.Errors(frame)].slice(0, 3).map(e => `${e.instancePath} ${e.message}`).join('; ')}`
}

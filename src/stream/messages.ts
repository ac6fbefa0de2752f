// Client frames → typed messages. Each frame must be one JSON text object matching one of
// the contract's messages exactly (schemas/stream.ts, compiled once at load); anything else
// is BAD_MESSAGE and changes nothing. The id of a bad message is echoed when it is a valid
// id, so a client can match the error to its request.
import { Compile } from 'typebox/compile'
import { DecisionMessage, MessageId as MessageIdSchema, SubscribeMessage, UnsubscribeMessage } from '../../schemas/stream.js'
import type { ClientMessage } from '../../schemas/stream.js'

export type { ClientMessage, DecisionMessage, SubscribeMessage, UnsubscribeMessage } from '../../schemas/stream.js'
export type { MessageId } from '../../schemas/stream.js'
import type { MessageId } from '../../schemas/stream.js'

const validators = {
  subscribe: Compile(SubscribeMessage),
  unsubscribe: Compile(UnsubscribeMessage),
  decision: Compile(DecisionMessage)
} as const
const idValidator = Compile(MessageIdSchema)

export type Parsed =
  | { ok: true, message: ClientMessage }
  | { ok: false, reason: string, id?: MessageId }

/** Parses one frame; `binary` frames are refused (the protocol is JSON text). */
export function parseClientMessage (data: Buffer | ArrayBuffer | Buffer[], binary: boolean): Parsed {
  if (binary) return { ok: false, reason: 'binary frames are not accepted: send JSON text' }
  let value: unknown
  try {
    value = JSON.parse(toText(data))
  } catch {
    return { ok: false, reason: 'the frame is not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'a message must be a JSON object with a "type"' }
  }
  const obj = value as Record<string, unknown>
  // Own properties only: a frame's "__proto__" or "constructor" key is just a key.
  const rawId = Object.hasOwn(obj, 'id') ? obj.id : undefined
  const id = rawId !== undefined && idValidator.Check(rawId) ? rawId : undefined
  const type = Object.hasOwn(obj, 'type') ? obj.type : undefined
  const v = typeof type === 'string' && Object.hasOwn(validators, type)
    ? validators[type as keyof typeof validators]
    : undefined
  if (v === undefined) {
    return withId({ ok: false, reason: 'unknown or missing "type": expected subscribe, unsubscribe or decision' }, id)
  }
  if (!v.Check(value)) return withId({ ok: false, reason: `invalid ${type as string}: ${describe(v.Errors(value))}` }, id)
  return { ok: true, message: value as ClientMessage }
}

function toText (data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}

function withId (p: { ok: false, reason: string }, id: MessageId | undefined): Parsed {
  return id === undefined ? p : { ...p, id }
}

/** The first schema error as "<path> <message>"; the frame's own values are not echoed. */
function describe (errors: { instancePath: string, message: string, keyword: string, params: unknown }[]): string {
  // additionalProperties names the keys: say which, they are the client's own field names.
  const extra = errors.find(e => e.keyword === 'additionalProperties')
  if (extra !== undefined) {
    const keys = (extra.params as { additionalProperties?: unknown }).additionalProperties
    const names = Array.isArray(keys) ? keys.slice(0, 4).map(k => JSON.stringify(String(k).slice(0, 32))).join(', ') : ''
    return `unknown field${names.includes(',') ? 's' : ''} ${names}`
  }
  const e = errors[0]
  if (e === undefined) return 'does not match the schema'
  return `${e.instancePath === '' ? 'message' : e.instancePath.slice(1)} ${e.message}`
}

// Every WebSocket message of the contract (docs/spec/api-v1.md "WebSocket: GET /v1/stream"),
// client → server and server → client. The stream compiles the client ones to check frames;
// the AsyncAPI document and the client's types come from the same schemas.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { DecidedBy, DecisionAction, Role, StreamVmState, VmId } from './common.js'
import { ExitMessage, decisionFields } from './exit.js'
import type { ExitMessage as ExitMessageType } from './exit.js'

/** A client message may carry `id`; the reply to it echoes it. */
export const MessageId = Type.Union([
  Type.String({ maxLength: 128 }),
  Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })
])
export type MessageId = Static<typeof MessageId>
const id = Type.Optional(MessageId)

// ---- client → server ----
export const SubscribeMessage = Type.Object({
  type: Type.Literal('subscribe'),
  id,
  vm: Type.String({ minLength: 1, maxLength: 64, description: 'A VM id, or "*" (observers): every VM of the tenant, present and future' }),
  role: Role,
  since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Replay the events after this seq' })),
  takeover: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const UnsubscribeMessage = Type.Object({
  type: Type.Literal('unsubscribe'),
  id,
  vm: Type.String({ minLength: 1, maxLength: 64 })
}, { additionalProperties: false })

export const DecisionMessage = Type.Object({
  type: Type.Literal('decision'),
  id,
  vm: VmId,
  exit: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  ...decisionFields
}, { additionalProperties: false })

export const ClientMessage = Type.Union([SubscribeMessage, UnsubscribeMessage, DecisionMessage])
export type SubscribeMessage = Static<typeof SubscribeMessage>
export type UnsubscribeMessage = Static<typeof UnsubscribeMessage>
export type DecisionMessage = Static<typeof DecisionMessage>
export type ClientMessage = Static<typeof ClientMessage>

// ---- server → client ----
export const HelloMessage = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Literal(1),
  server: Type.String({ description: 'faultline/<version>' })
}, { additionalProperties: false })
export type HelloMessage = Static<typeof HelloMessage>

export const SubscribedMessage = Type.Object({
  type: Type.Literal('subscribed'),
  id,
  vm: Type.String(),
  role: Role,
  seq: Type.Integer({ minimum: 0, description: 'The VM\'s current seq; replayed and new events follow' })
}, { additionalProperties: false })
export type SubscribedMessage = Static<typeof SubscribedMessage>

export { ExitMessage }

export const DecidedMessage = Type.Object({
  type: Type.Literal('decided'),
  vm: VmId,
  exit: Type.Integer({ minimum: 1 }),
  seq: Type.Integer({ minimum: 1 }),
  action: DecisionAction,
  by: DecidedBy
}, { additionalProperties: false })
export type DecidedMessage = Static<typeof DecidedMessage>

export const StateMessage = Type.Object({
  type: Type.Literal('state'),
  vm: VmId,
  seq: Type.Integer({ minimum: 1 }),
  state: StreamVmState,
  reason: Type.String()
}, { additionalProperties: false })
export type StateMessage = Static<typeof StateMessage>

export const AckMessage = Type.Object({
  type: Type.Literal('ack'),
  id: MessageId
}, { additionalProperties: true, description: 'May carry more fields about what was done' })
export type AckMessage = Static<typeof AckMessage>

export const ErrorMessage = Type.Object({
  type: Type.Literal('error'),
  id,
  code: Type.String({ description: 'A code of the error table (schemas/errors.ts), e.g. BAD_MESSAGE, VM_NOT_FOUND, CONFLICT, EXIT_NOT_PENDING' }),
  message: Type.String(),
  vm: Type.Optional(Type.String()),
  exit: Type.Optional(Type.Integer())
}, { additionalProperties: false })
export type ErrorMessage = Static<typeof ErrorMessage>

export const RevokedMessage = Type.Object({
  type: Type.Literal('revoked'),
  vm: VmId
}, { additionalProperties: false })
export type RevokedMessage = Static<typeof RevokedMessage>

export const ServerMessage = Type.Union([
  HelloMessage, SubscribedMessage, ExitMessage, DecidedMessage, StateMessage, AckMessage, ErrorMessage, RevokedMessage
])
export type ServerMessage = Static<typeof ServerMessage>
/** The events of one VM that carry a seq, in the order the server sent them. */
export type VmEvent = ExitMessageType | DecidedMessage | StateMessage

// The stream protocol (GET /v1/stream) as an AsyncAPI 3.0 document, built from the TypeBox
// schemas the stream checks frames with, so a client generated from it speaks what the server speaks.
import type { TSchema } from 'typebox'
import {
  AckMessage, DecidedMessage, DecisionMessage, ErrorMessage, ExitMessage, HelloMessage, RevokedMessage,
  StateMessage, SubscribeMessage, SubscribedMessage, UnsubscribeMessage
} from '../schemas/stream.js'
import { STREAM_PROTOCOL, STREAM_SUBPROTOCOL } from '../schemas/protocol.js'

interface MessageSpec { schema: TSchema, name: string, summary: string, correlated: boolean }

/** Client → server, by message name (the frame's `type`). */
const SENT: Record<string, MessageSpec> = {
  subscribe: { schema: SubscribeMessage, name: 'SubscribeMessage', correlated: true, summary: 'Observe or control a VM (or observe "*": every VM of the tenant). Replied to with subscribed, the backlog, then ack when it has an id.' },
  unsubscribe: { schema: UnsubscribeMessage, name: 'UnsubscribeMessage', correlated: true, summary: 'Stop getting a VM\'s events (ack when it has an id).' },
  decision: { schema: DecisionMessage, name: 'DecisionMessage', correlated: true, summary: 'The controller decides a pending exit: convert, resume or kill (ack when it has an id).' }
}

/** Server → client, by message name. */
const RECEIVED: Record<string, MessageSpec> = {
  hello: { schema: HelloMessage, name: 'HelloMessage', correlated: false, summary: 'The first frame on every socket: protocol version and server.' },
  subscribed: { schema: SubscribedMessage, name: 'SubscribedMessage', correlated: true, summary: 'A subscription took effect; seq is the VM\'s current seq.' },
  exit: { schema: ExitMessage, name: 'ExitMessage', correlated: false, summary: 'A vCPU exited; the payload is named as in kvm_run.' },
  decided: { schema: DecidedMessage, name: 'DecidedMessage', correlated: false, summary: 'An exit was decided, and by whom.' },
  state: { schema: StateMessage, name: 'StateMessage', correlated: false, summary: 'The VM changed state.' },
  ack: { schema: AckMessage, name: 'AckMessage', correlated: true, summary: 'A request with an id succeeded.' },
  error: { schema: ErrorMessage, name: 'ErrorMessage', correlated: true, summary: 'A request failed; nothing changed.' },
  revoked: { schema: RevokedMessage, name: 'RevokedMessage', correlated: false, summary: 'Another socket took control of the VM; this one is unsubscribed from it.' }
}

/** The replies a request may get (they echo its id). */
const REPLIES = ['subscribed', 'ack', 'error']

const ref = ($ref: string): { $ref: string } => ({ $ref })
// JSON Schema as sent: TypeBox's symbol-keyed metadata does not belong in a document.
const plain = (schema: TSchema): object => JSON.parse(JSON.stringify(schema)) as object

export function asyncapiDocument (version: string): Record<string, unknown> {
  const all = { ...SENT, ...RECEIVED }
  const schemas: Record<string, object> = {}
  const messages: Record<string, object> = {}
  for (const [key, m] of Object.entries(all)) {
    schemas[m.name] = plain(m.schema)
    messages[key] = {
      name: key,
      summary: m.summary,
      contentType: 'application/json',
      payload: ref(`#/components/schemas/${m.name}`),
      ...(m.correlated ? { correlationId: ref('#/components/correlationIds/requestId') } : {})
    }
  }
  const channelMessages = Object.fromEntries(Object.keys(all).map(k => [k, ref(`#/components/messages/${k}`)]))
  const fromChannel = (keys: string[]): { $ref: string }[] => keys.map(k => ref(`#/channels/stream/messages/${k}`))

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'faultline stream',
      version,
      description: 'The exit stream of faultline: vCPU exits go out over one WebSocket, decisions come back. ' +
        'Written from the client\'s side: `send` is what a client sends, `receive` what it gets. ' +
        `Every frame is one JSON object in a text frame; the first is \`hello\` (protocol ${STREAM_PROTOCOL}). ` +
        'A request may carry `id`; its reply (subscribed, ack or error) echoes it. ' +
        'The REST API is described by /openapi.json.',
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' }
    },
    defaultContentType: 'application/json',
    servers: {
      faultline: {
        host: '{host}',
        protocol: 'ws',
        description: 'The faultline server that serves this document (wss when behind TLS).',
        variables: { host: { default: '127.0.0.1:8080', description: 'host:port of the server (its HOST and PORT settings)' } },
        security: [ref('#/components/securitySchemes/bearer'), ref('#/components/securitySchemes/subprotocol')]
      }
    },
    channels: {
      stream: {
        address: '/v1/stream',
        title: 'The exit stream',
        description: 'One socket carries any number of VMs. The upgrade is refused before any socket opens: ' +
          '401 without a valid token, 400 when subprotocols are offered without ' + STREAM_SUBPROTOCOL +
          ', 429 over the rate limit, 503 when overloaded.',
        messages: channelMessages,
        bindings: {
          ws: {
            method: 'GET',
            headers: {
              type: 'object',
              properties: {
                Authorization: { type: 'string', description: 'Bearer <token> (or authenticate with subprotocols)' },
                'Sec-WebSocket-Protocol': { type: 'string', description: `${STREAM_SUBPROTOCOL}, with bearer.<token> beside it when the token is not in Authorization; the server selects ${STREAM_SUBPROTOCOL}` }
              }
            },
            bindingVersion: '0.1.0'
          }
        }
      }
    },
    operations: {
      sendClientMessage: {
        action: 'send',
        channel: ref('#/channels/stream'),
        title: 'Send a request',
        summary: 'subscribe, unsubscribe or decision',
        messages: fromChannel(Object.keys(SENT)),
        reply: { channel: ref('#/channels/stream'), messages: fromChannel(REPLIES) }
      },
      receiveServerMessage: {
        action: 'receive',
        channel: ref('#/channels/stream'),
        title: 'Receive events and replies',
        summary: 'hello, then replies to requests and the subscribed VMs\' events',
        messages: fromChannel(Object.keys(RECEIVED))
      }
    },
    components: {
      schemas,
      messages,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <token> on the upgrade request' },
        subprotocol: {
          type: 'httpApiKey',
          in: 'header',
          name: 'Sec-WebSocket-Protocol',
          description: `For browsers, which cannot set headers on an upgrade: offer ${STREAM_SUBPROTOCOL} and bearer.<token>. The token is never echoed.`
        }
      },
      correlationIds: {
        requestId: { description: 'The id a request carries, echoed by its reply', location: '$message.payload#/id' }
      }
    }
  }
}

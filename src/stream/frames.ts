// Server → client frames that are not VM events (those come encoded from control/). Each
// is built by JSON.stringify of an object of the contract's type (schemas/stream.ts) with
// a fixed key order, so tests and docs can compare them as text.
import type { Role } from '../../schemas/common.js'
import type { ErrorCode } from '../../schemas/errors.js'
import type { AckMessage, ErrorMessage, HelloMessage, MessageId, RevokedMessage, SubscribedMessage } from '../../schemas/stream.js'
import { STREAM_PROTOCOL } from '../../schemas/protocol.js'
import type { ControlEvent } from '../control/index.js'
import { framePayload, textFrameOf } from './wire.js'

export type { Role }

export function helloFrame (version: string): string {
  return JSON.stringify({ type: 'hello', protocol: STREAM_PROTOCOL, server: `faultline/${version}` } satisfies HelloMessage)
}

export function subscribedFrame (id: MessageId | undefined, vm: string, role: Role, seq: number): string {
  const m: SubscribedMessage = id === undefined ? { type: 'subscribed', vm, role, seq } : { type: 'subscribed', id, vm, role, seq }
  return JSON.stringify(m)
}

export function ackFrame (id: MessageId, fields: Record<string, unknown>): string {
  return JSON.stringify({ type: 'ack', id, ...fields } satisfies AckMessage)
}

export function revokedFrame (vm: string): string {
  return JSON.stringify({ type: 'revoked', vm } satisfies RevokedMessage)
}

export interface ErrorFields {
  id?: MessageId | undefined
  vm?: string | undefined
  exit?: number | undefined
}

export function errorFrame (code: ErrorCode, message: string, f: ErrorFields = {}): string {
  const m: ErrorMessage = f.id !== undefined ? { type: 'error', id: f.id, code, message } : { type: 'error', code, message }
  if (f.vm !== undefined) m.vm = f.vm
  if (f.exit !== undefined) m.exit = f.exit
  return JSON.stringify(m)
}

// An event's bytes and frame, made once however many sockets it goes to. The bus hands the
// same event to every listener one after another, so remembering the last one is enough for
// fan-out; keeping the bytes of every journalled event (a WeakMap) would double the
// journal's memory.
let lastEvent: ControlEvent | undefined
let lastFrame: Buffer = Buffer.alloc(0)
let lastBytes: Buffer | undefined

/** The event as a whole WebSocket text frame (see wire.ts), encoded once. */
export function eventFrame (e: ControlEvent): Buffer {
  if (e !== lastEvent) {
    lastFrame = textFrameOf(e.frame)
    lastBytes = undefined
    lastEvent = e
  }
  return lastFrame
}

/** The event's payload bytes: a view of its frame (the same view for every subscriber). */
export function eventBytes (e: ControlEvent): Buffer {
  // The frame first: a new event resets the cached view.
  const frame = eventFrame(e)
  lastBytes ??= framePayload(frame)
  return lastBytes
}

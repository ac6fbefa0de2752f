// The faultline client: REST calls and the exit stream, usable without any server code.
export { FaultlineClient, DEFAULT_URL } from './client.js'
export type { FaultlineClientOptions } from './client.js'
export { ExitStream } from './stream.js'
export type {
  ExitStreamOptions, ExitStreamEvents, SubscribeOptions, GapEvent, ReconnectEvent, DisconnectEvent
} from './stream.js'
export { FaultlineApiError, FaultlineStreamError } from './errors.js'
export { backoffDelay, DEFAULT_BACKOFF } from './backoff.js'
export type { BackoffOptions } from './backoff.js'
export * from './constants.js'
export type * from './types.js'

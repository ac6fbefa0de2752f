// The REST side of the page: the project's FaultlineClient on this page's origin, and
// errors turned into one sentence a person can act on.
import { FaultlineClient } from '../src/client/client.js'
import { FaultlineApiError } from '../src/client/errors.js'
import { LiveError } from './live.js'

export function clientFor (token: string): FaultlineClient {
  return new FaultlineClient({ url: window.location.origin, token, timeoutMs: 15_000 })
}

/** The message to show for a failed call: the server's words and its stable code. */
export function describeError (e: unknown): string {
  if (e instanceof FaultlineApiError) {
    if (e.statusCode === 401) return `The server refused this token (${e.code}).`
    return `${e.message} (${e.code}${e.errno !== undefined ? ', ' + e.errno : ''})`
  }
  if (e instanceof LiveError) return `${e.message} (${e.code})`
  if (e instanceof Error) return e.message
  return String(e)
}

export const isUnauthorized = (e: unknown): boolean => e instanceof FaultlineApiError && e.statusCode === 401

// The service's errors: a stable code from the error table (schemas/errors.ts) and a
// message, plus `errno` where the KVM call a request mirrors would fail with one and `path`
// where the problem sits in the request. No status here: the edges (REST, stream) read it
// from the table, so control/ and the core never decide HTTP.
import type { Errno } from '../schemas/kvm.js'
import type { ErrorCode } from '../schemas/errors.js'
import { isErrorCode } from '../schemas/errors.js'
import { KvmError } from './kvm/index.js'

export interface ErrorDetails {
  errno?: Errno | undefined
  /** Where in the request the problem is, e.g. "program[3].gpa". */
  path?: string | undefined
}

export class FaultlineError extends Error {
  readonly code: ErrorCode
  readonly errno: Errno | undefined
  readonly path: string | undefined
  constructor (code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message)
    this.name = 'FaultlineError'
    this.code = code
    this.errno = details.errno
    this.path = details.path
  }
}

/** What a request shed under pressure is answered with (src/plugins/protection.ts). */
export class Overloaded extends FaultlineError {
  constructor () { super('OVERLOADED', 'the server is under pressure: retry later') }
}

/**
 * The error as the service reports it: its own errors and the core's as they are (the core's
 * codes are table codes), anything else INTERNAL.
 */
export function asFaultlineError (e: unknown): FaultlineError {
  if (e instanceof FaultlineError) return e
  if (e instanceof KvmError) return new FaultlineError(e.code, e.message, { errno: e.errno, path: e.path })
  return new FaultlineError('INTERNAL', 'internal error')
}

/** The stream's code for an error (the REST code without its FAULTLINE_ prefix). */
export function errorCode (e: unknown): ErrorCode {
  const code = (e as { code?: unknown } | null)?.code
  return (e instanceof FaultlineError || e instanceof KvmError) && isErrorCode(code) ? code : 'INTERNAL'
}

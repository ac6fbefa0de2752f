// Every error faultline sends is made here, each with a stable code. REST sends
// `FAULTLINE_<X>`; the stream sends the same suffix `<X>` (streamCode), so a client can
// match one table. `errno` rides along where the KVM call the request mirrors would fail
// with one (KVM_SET_MEMORY_ATTRIBUTES EINVAL, memslot checks, poison).
import createError from '@fastify/error'
import type { FastifyError } from '@fastify/error'
import type { Errno } from './kvm/constants.js'
import { KvmError } from './kvm/types.js'

/** Extra fields an error body may carry beside {statusCode, code, error, message}. */
export interface ErrorDetails {
  errno?: Errno
  /** Where in the request the problem is, e.g. "program[3].gpa". */
  path?: string
}

export type FaultlineError = FastifyError & ErrorDetails & { statusCode: number }

// Client errors skip the stack trace: they are expected and some sit on hot paths.
const make = (code: string, message: string, status: number) =>
  createError<string, number, [string?]>(code, message, status, Error, status >= 500)

export const Unauthorized = make('FAULTLINE_UNAUTHORIZED', 'a valid Bearer token is required%s', 401)
export const Forbidden = make('FAULTLINE_FORBIDDEN', 'this token may not %s', 403)
export const VmNotFound = make('FAULTLINE_VM_NOT_FOUND', 'no VM %s', 404)
export const VcpuNotFound = make('FAULTLINE_VCPU_NOT_FOUND', '%s', 404)
export const RouteNotFound = make('FAULTLINE_NOT_FOUND', 'no route %s', 404)
export const Validation = make('FAULTLINE_VALIDATION', '%s', 400)
export const BadJson = make('FAULTLINE_BAD_JSON', 'the body is not valid JSON: %s', 400)
export const UnsupportedMediaType = make('FAULTLINE_UNSUPPORTED_MEDIA_TYPE', '%s', 415)
export const PayloadTooLarge = make('FAULTLINE_PAYLOAD_TOO_LARGE', '%s', 413)
export const InvalidArgument = make('FAULTLINE_INVALID_ARGUMENT', '%s', 400)
export const InvalidProgram = make('FAULTLINE_INVALID_PROGRAM', '%s', 400)
export const InvalidConfig = make('FAULTLINE_INVALID_CONFIG', '%s', 400)
export const UnknownPreset = make('FAULTLINE_UNKNOWN_PRESET', 'no preset %s', 400)
export const LimitExceeded = make('FAULTLINE_LIMIT_EXCEEDED', '%s', 400)
export const TooManyVms = make('FAULTLINE_TOO_MANY_VMS', '%s', 409)
export const NameTaken = make('FAULTLINE_NAME_TAKEN', 'a VM named %s already exists', 409)
export const InvalidTransition = make('FAULTLINE_INVALID_TRANSITION', '%s', 409)
export const ExitNotPending = make('FAULTLINE_EXIT_NOT_PENDING', '%s', 409)
export const InvalidAction = make('FAULTLINE_INVALID_ACTION', '%s', 422)
export const SeqExpired = make('FAULTLINE_SEQ_EXPIRED', '%s', 410)
export const RateLimited = make('FAULTLINE_RATE_LIMITED', 'too many requests: %s', 429)
export const Overloaded = make('FAULTLINE_OVERLOADED', 'the server is under pressure, retry later%s', 503)
export const NotReady = make('FAULTLINE_NOT_READY', 'the server is %s', 503)
export const Internal = make('FAULTLINE_INTERNAL', 'internal error%s', 500)
// Stream-only codes, made here too so that one table holds every code.
export const BadMessage = make('FAULTLINE_BAD_MESSAGE', '%s', 400)
export const Conflict = make('FAULTLINE_CONFLICT', '%s', 409)
export const NotController = make('FAULTLINE_NOT_CONTROLLER', '%s', 403)

/** Attaches errno / path to an error made above. */
export function withDetails<E extends FastifyError> (err: E, details: ErrorDetails): E & ErrorDetails {
  const out = err as E & ErrorDetails
  if (details.errno !== undefined) out.errno = details.errno
  if (details.path !== undefined) out.path = details.path
  return out
}

/** The core's refusals as faultline errors, errno and path kept. */
export function fromKvmError (e: KvmError): FaultlineError {
  const details: ErrorDetails = {}
  if (e.errno !== undefined) details.errno = e.errno
  if (e.path !== undefined) details.path = e.path
  const ctor = {
    INVALID_ARGUMENT: InvalidArgument,
    INVALID_ACTION: InvalidAction,
    EXIT_NOT_PENDING: ExitNotPending,
    INVALID_PROGRAM: InvalidProgram,
    INVALID_CONFIG: InvalidConfig,
    VCPU_NOT_FOUND: VcpuNotFound
  }[e.code]
  return withDetails(new ctor(e.message), details) as FaultlineError
}

/** Rethrows a KvmError as its faultline error; anything else unchanged. */
export function translate (e: unknown): never {
  if (e instanceof KvmError) throw fromKvmError(e)
  throw e
}

export function isFaultlineError (e: unknown): e is FaultlineError {
  return e instanceof Error && typeof (e as FastifyError).code === 'string' &&
    (e as FastifyError).code.startsWith('FAULTLINE_') && typeof (e as FastifyError).statusCode === 'number'
}

/** The stream's code for an error: the REST code without its FAULTLINE_ prefix. */
export function streamCode (e: unknown): string {
  if (e instanceof KvmError) return e.code
  if (isFaultlineError(e)) return e.code.slice('FAULTLINE_'.length)
  return 'INTERNAL'
}

// The client's errors: one class per channel, each with the server's stable code, so callers
// branch on `code`, never on message text.

/** A REST call answered with a non-2xx status: `{statusCode, code, error, message, errno?}`. */
export class FaultlineApiError extends Error {
  readonly statusCode: number
  readonly code: string
  /** The errno of the KVM call the route mirrors (e.g. EINVAL), when it has one. */
  readonly errno: string | undefined
  /** The HTTP reason phrase the server sent as `error`. */
  readonly error: string | undefined
  /** The line of an uploaded file (a trace) the error is about, when the server names one. */
  readonly line: number | undefined
  constructor (statusCode: number, code: string, message: string, opts: { errno?: string, error?: string, line?: number } = {}) {
    super(message)
    this.name = 'FaultlineApiError'
    this.statusCode = statusCode
    this.code = code
    this.errno = opts.errno
    this.error = opts.error
    this.line = opts.line
  }
}

/**
 * A stream request that failed: the server's `error` reply (code e.g. EXIT_NOT_PENDING,
 * INVALID_ACTION, CONFLICT), or one of the client's own codes: TIMEOUT (no reply in time),
 * CLOSED (the stream was closed), DISCONNECTED (gave up reconnecting), PROTOCOL (the
 * server speaks another protocol), UNAUTHORIZED (the upgrade was refused).
 */
export class FaultlineStreamError extends Error {
  readonly code: string
  readonly vm: string | undefined
  readonly exit: number | undefined
  constructor (code: string, message: string, opts: { vm?: string, exit?: number } = {}) {
    super(message)
    this.name = 'FaultlineStreamError'
    this.code = code
    this.vm = opts.vm
    this.exit = opts.exit
  }
}

// Every error code faultline sends, once. The stream sends the code as is (`VM_NOT_FOUND`);
// REST sends it with the FAULTLINE_ prefix and the HTTP status given here. Nothing else in
// the service decides a status: control/ and the core throw codes, the edges map them.

export const ERROR_CODES = {
  UNAUTHORIZED: { status: 401, description: 'No token, or a token the server does not know' },
  FORBIDDEN: { status: 403, description: 'The token\'s role may not do this (an observer asking to change or control)' },
  NOT_CONTROLLER: { status: 403, description: 'A decision from a socket that is not the VM\'s controller' },
  VM_NOT_FOUND: { status: 404, description: 'No such VM for this tenant (another tenant\'s VM does not exist for you)' },
  VCPU_NOT_FOUND: { status: 404, description: 'The VM has no vCPU with that index' },
  NOT_FOUND: { status: 404, description: 'No such route' },
  TRACE_INVALID: { status: 400, description: 'A trace line is not JSON, or not a line of faultline-trace/1; `line` names it' },
  TRACE_VERSION: { status: 400, description: 'The trace is in a newer format than this server reads' },
  TRACE_TRUNCATED: { status: 400, description: 'The trace ends before its end line (cut mid-line, or lines missing)' },
  TRACE_INCOMPLETE: { status: 400, description: 'The journal had dropped the trace\'s head: it cannot be replayed from creation' },
  REPLAY_NOT_FOUND: { status: 404, description: 'No such replay for this tenant' },
  VALIDATION: { status: 400, description: 'The request does not match its schema; the message names the field' },
  BAD_JSON: { status: 400, description: 'The body is not valid JSON' },
  BAD_MESSAGE: { status: 400, description: 'A stream frame that is not one of the protocol\'s messages' },
  BAD_REQUEST: { status: 400, description: 'A request the HTTP layer could not read (a malformed URL, say)' },
  INVALID_ARGUMENT: { status: 400, description: 'A KVM-mirroring call\'s own checks failed; errno says how (EINVAL)' },
  INVALID_PROGRAM: { status: 400, description: 'The guest program is not valid; path names the instruction' },
  INVALID_CONFIG: { status: 400, description: 'The VM definition is not valid (memslots, gpaw, type)' },
  UNKNOWN_PRESET: { status: 400, description: 'No built-in program has that name' },
  LIMIT_EXCEEDED: { status: 400, description: 'Over a limit this server sets (vCPUs, memslots, subscriptions)' },
  REQUEST_TIMEOUT: { status: 408, description: 'No complete request within FAULTLINE_IDLE_TIMEOUT_MS: the connection is closed' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The body is over the server\'s limit' },
  HEADERS_TOO_LARGE: { status: 431, description: 'The request\'s headers are over the server\'s limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The body is not JSON in UTF-8' },
  TOO_MANY_VMS: { status: 409, description: 'The tenant (or the server) has as many VMs as it may' },
  NAME_TAKEN: { status: 409, description: 'The tenant already has a VM of that name' },
  INVALID_TRANSITION: { status: 409, description: 'The VM\'s state does not allow that action' },
  EXIT_NOT_PENDING: { status: 409, description: 'The exit is not waiting for a decision (decided already, or never was)' },
  CONFLICT: { status: 409, description: 'The VM already has a controller (subscribe with takeover to take it)' },
  SEQ_EXPIRED: { status: 410, description: 'The events after that seq are no longer kept' },
  INVALID_ACTION: { status: 422, description: 'The decision cannot apply to this exit; it stays pending' },
  RATE_LIMITED: { status: 429, description: 'Too many requests for this token; retry after the time given' },
  TOO_MANY_SOCKETS: { status: 429, description: 'The token has as many stream sockets open as it may (FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN)' },
  INTERNAL: { status: 500, description: 'A bug: the server logged it' },
  OVERLOADED: { status: 503, description: 'The server is under pressure and shed the request; retry later' },
  NOT_READY: { status: 503, description: 'The server is starting or closing' }
} as const satisfies Record<string, { status: number, description: string }>

export type ErrorCode = keyof typeof ERROR_CODES

/** The HTTP status of an error code. */
export function statusOf (code: ErrorCode): number {
  return ERROR_CODES[code].status
}

export function isErrorCode (code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
}

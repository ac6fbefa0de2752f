// Configuration from the environment, checked once at start: a bad value stops the server
// with a message naming the variable, what it got and what it takes.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Limits } from './control/types.js'
import { DEFAULT_LIMITS } from './control/types.js'
import { DEFAULT_TENANT, MIN_TOKEN_LENGTH, TokenConfigError, readTokensFile } from './auth/tokens.js'
import type { TokenEntry } from './auth/tokens.js'
import { DEFAULT_STREAM_OPTIONS } from './stream/options.js'
import type { StreamOptions } from './stream/options.js'

export type TokenSource =
  | { kind: 'env', entries: TokenEntry[] }
  | { kind: 'file', path: string, entries: TokenEntry[] }
  /** Neither variable set: server.ts makes a random admin token at start. */
  | { kind: 'generate' }

export interface Config {
  host: string
  port: number
  dataDir: string
  logLevel: string
  tokens: TokenSource
  limits: Limits
  /** Largest request body, bytes (413 above it). */
  bodyLimit: number
  /** Largest trace POST /v1/replays takes, bytes (413 above it). */
  traceMaxBytes: number
  /** Largest WebSocket message, bytes. */
  wsMaxPayload: number
  /** Requests per token per minute; 0 turns rate limiting off. */
  rateLimitPerMinute: number
  /** Event-loop delay past which requests are shed with 503; 0 turns it off. */
  maxEventLoopDelayMs: number
  /** Open connections (HTTP and stream) past which new ones are closed at once. */
  maxConnections: number
  /** A connection that sends no complete request for this long is closed (408). */
  idleTimeoutMs: number
  /** The stream's limits and timers (the version comes from the build). */
  stream: Omit<StreamOptions, 'version'>
  /** The store's file size cap in pages; 0 for none. */
  storeMaxPages: number
}

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super('invalid configuration:\n  ' + problems.join('\n  '))
    this.name = 'ConfigError'
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** File descriptors kept for everything but client connections (logs, files, the listener). */
const RESERVED_FDS = 256

/**
 * The default connection cap: the process's soft open-files limit less a reserve, so that
 * connections are shed before accept() or a file open fails with EMFILE. 4096 where the
 * limit cannot be read (/proc/self/limits is Linux's).
 */
export function defaultMaxConnections (limits = '/proc/self/limits'): number {
  let soft: number
  try {
    const m = /^Max open files\s+(\S+)/m.exec(readFileSync(limits, 'utf8'))
    soft = m === null ? NaN : m[1] === 'unlimited' ? Infinity : Number(m[1])
  } catch {
    soft = NaN
  }
  if (Number.isNaN(soft)) return 4096
  return Math.max(32, Math.min(soft - RESERVED_FDS, 65_536))
}

/** Every variable faultline reads, with its default and range (docs/operations.md). */
export const INTEGER_VARS = {
  PORT: { def: 8080, min: 0, max: 65535 },
  FAULTLINE_MAX_VCPUS: { def: DEFAULT_LIMITS.maxVcpus, min: 1, max: 256 },
  FAULTLINE_MAX_MEMSLOTS: { def: DEFAULT_LIMITS.maxMemslots, min: 1, max: 32767 },
  FAULTLINE_MAX_PROGRAM_OPS: { def: DEFAULT_LIMITS.maxProgramOps, min: 1, max: 1_000_000 },
  FAULTLINE_MAX_VMS_PER_TENANT: { def: DEFAULT_LIMITS.maxVmsPerTenant, min: 1, max: 100_000 },
  FAULTLINE_JOURNAL_EVENTS: { def: DEFAULT_LIMITS.journalEvents, min: 16, max: 10_000_000 },
  FAULTLINE_JOURNAL_BYTES: { def: DEFAULT_LIMITS.journalBytes, min: 64 * 1024, max: 1024 * 1024 * 1024 },
  FAULTLINE_JOURNAL_TOTAL_EVENTS: { def: DEFAULT_LIMITS.journalTotalEvents, min: 16, max: 1_000_000_000 },
  // Work units per slice: past ~100k a slice alone could hold the event loop for milliseconds.
  FAULTLINE_RUN_BUDGET: { def: DEFAULT_LIMITS.runBudget, min: 16, max: 100_000 },
  FAULTLINE_MAX_EXTENTS_PER_VM: { def: DEFAULT_LIMITS.maxExtentsPerVm, min: 64, max: 10_000_000 },
  FAULTLINE_MAX_VMS: { def: DEFAULT_LIMITS.maxVms, min: 1, max: 1_000_000 },
  FAULTLINE_BODY_LIMIT: { def: 1024 * 1024, min: 1024, max: 64 * 1024 * 1024 },
  FAULTLINE_TRACE_MAX_BYTES: { def: 32 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 },
  FAULTLINE_WS_MAX_PAYLOAD: { def: 64 * 1024, min: 1024, max: 64 * 1024 * 1024 },
  FAULTLINE_RATE_LIMIT: { def: 6000, min: 0, max: 10_000_000 },
  FAULTLINE_MAX_EVENT_LOOP_DELAY_MS: { def: 1000, min: 0, max: 60_000 },
  FAULTLINE_MAX_CONNECTIONS: { def: defaultMaxConnections(), min: 1, max: 1_000_000 },
  FAULTLINE_IDLE_TIMEOUT_MS: { def: 10_000, min: 100, max: 3_600_000 },
  FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN: { def: DEFAULT_STREAM_OPTIONS.maxSocketsPerToken, min: 1, max: 1_000_000 },
  // A heartbeat shorter than a second would terminate healthy peers on a slow link.
  FAULTLINE_WS_HEARTBEAT_MS: { def: DEFAULT_STREAM_OPTIONS.heartbeatMs, min: 0, minOn: 1000, max: 3_600_000 },
  // At least a few frames of any size a socket is sent; at most what a few sockets may pin.
  FAULTLINE_WS_MAX_BUFFERED_BYTES: { def: DEFAULT_STREAM_OPTIONS.maxBufferedBytes, min: 64 * 1024, max: 1024 * 1024 * 1024 },
  FAULTLINE_WS_MAX_SUBSCRIPTIONS: { def: DEFAULT_STREAM_OPTIONS.maxSubscriptions, min: 1, max: 1_000_000 },
  FAULTLINE_WS_OBSERVER_FLUSH_MS: { def: DEFAULT_STREAM_OPTIONS.observerFlushMs, min: 0, max: 1000 },
  FAULTLINE_WS_POLL_US: { def: DEFAULT_STREAM_OPTIONS.pollUs, min: 0, max: 1000 },
  // A ceiling on the store's file, in 4 KiB pages (0: none): past it a commit fails, and the
  // server exits rather than tell a client what it could not keep.
  FAULTLINE_STORE_MAX_PAGES: { def: 0, min: 0, max: 2 ** 32 - 2 }
} as const

type IntVar = keyof typeof INTEGER_VARS
interface IntSpec { def: number, min: number, max: number, /** The least value other than 0 (off). */ minOn?: number }

export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = []
  const int = (name: IntVar): number => {
    const spec: IntSpec = INTEGER_VARS[name]
    const raw = env[name]
    if (raw === undefined || raw.trim() === '') return spec.def
    const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN
    if (!Number.isSafeInteger(n) || n < spec.min || n > spec.max || (spec.minOn !== undefined && n !== 0 && n < spec.minOn)) {
      const range = spec.minOn === undefined ? `from ${spec.min} to ${spec.max}` : `0 (off) or from ${spec.minOn} to ${spec.max}`
      problems.push(`${name}=${JSON.stringify(raw)}: must be an integer ${range} (default ${spec.def})`)
      return spec.def
    }
    return n
  }

  const host = env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST
  const port = int('PORT')
  const dataDir = resolve(env.FAULTLINE_DATA_DIR === undefined || env.FAULTLINE_DATA_DIR === '' ? './data' : env.FAULTLINE_DATA_DIR)
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: must be one of ${LOG_LEVELS.join(', ')}`)

  const limits: Limits = {
    maxVcpus: int('FAULTLINE_MAX_VCPUS'),
    maxMemslots: int('FAULTLINE_MAX_MEMSLOTS'),
    maxProgramOps: int('FAULTLINE_MAX_PROGRAM_OPS'),
    maxVmsPerTenant: int('FAULTLINE_MAX_VMS_PER_TENANT'),
    journalEvents: int('FAULTLINE_JOURNAL_EVENTS'),
    journalBytes: int('FAULTLINE_JOURNAL_BYTES'),
    journalTotalEvents: int('FAULTLINE_JOURNAL_TOTAL_EVENTS'),
    runBudget: int('FAULTLINE_RUN_BUDGET'),
    maxExtentsPerVm: int('FAULTLINE_MAX_EXTENTS_PER_VM'),
    maxVms: int('FAULTLINE_MAX_VMS')
  }

  let tokens: TokenSource = { kind: 'generate' }
  const token = env.FAULTLINE_TOKEN
  const file = env.FAULTLINE_TOKENS_FILE
  if (token !== undefined && token !== '' && file !== undefined && file !== '') {
    problems.push('FAULTLINE_TOKEN and FAULTLINE_TOKENS_FILE are both set: choose one')
  } else if (token !== undefined && token !== '') {
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) problems.push(`FAULTLINE_TOKEN: must be at least ${MIN_TOKEN_LENGTH} characters with no whitespace`)
    else tokens = { kind: 'env', entries: [{ token, tenant: DEFAULT_TENANT, role: 'admin' }] }
  } else if (file !== undefined && file !== '') {
    try {
      tokens = { kind: 'file', path: resolve(file), entries: readTokensFile(resolve(file)) }
    } catch (e) {
      if (!(e instanceof TokenConfigError)) throw e
      problems.push(e.message)
    }
  }

  const config: Config = {
    host,
    port,
    dataDir,
    logLevel,
    tokens,
    limits,
    bodyLimit: int('FAULTLINE_BODY_LIMIT'),
    traceMaxBytes: int('FAULTLINE_TRACE_MAX_BYTES'),
    wsMaxPayload: int('FAULTLINE_WS_MAX_PAYLOAD'),
    rateLimitPerMinute: int('FAULTLINE_RATE_LIMIT'),
    maxEventLoopDelayMs: int('FAULTLINE_MAX_EVENT_LOOP_DELAY_MS'),
    maxConnections: int('FAULTLINE_MAX_CONNECTIONS'),
    idleTimeoutMs: int('FAULTLINE_IDLE_TIMEOUT_MS'),
    stream: {
      heartbeatMs: int('FAULTLINE_WS_HEARTBEAT_MS'),
      maxBufferedBytes: int('FAULTLINE_WS_MAX_BUFFERED_BYTES'),
      maxSubscriptions: int('FAULTLINE_WS_MAX_SUBSCRIPTIONS'),
      observerFlushMs: int('FAULTLINE_WS_OBSERVER_FLUSH_MS'),
      pollUs: int('FAULTLINE_WS_POLL_US'),
      maxSocketsPerToken: int('FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN')
    },
    storeMaxPages: int('FAULTLINE_STORE_MAX_PAGES')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

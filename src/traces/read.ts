// Reads a trace file: every line JSON and a line of faultline-trace/1, the header first, the
// end line last. What is wrong is refused with the line at fault (1 = the header): a newer
// format, a line cut short, a header that is not a VM this server can make again.
// POST /v1/replays checks a trace a slice at a time between the server's other work
// (parseTraceInTurns): tens of MiB take a second or more, which in one go would hold every
// VM and socket of the server that long.
import { performance } from 'node:perf_hooks'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { FaultlineError } from '../errors.js'
import type { ErrorCode } from '../../schemas/errors.js'
import {
  TRACE_FORMAT, TRACE_FORMAT_VERSION, TraceAttributes, TraceDecision, TraceEnd, TraceExit, TraceHeader,
  TraceInterrupt, TracePoison, TraceReset, TraceRun, TraceState
} from '../../schemas/trace.js'
import type { TraceBodyLine, TraceHeader as TraceHeaderType } from '../../schemas/trace.js'

/** A refused trace: a table code and the line at fault. */
export class TraceError extends FaultlineError {
  constructor (code: ErrorCode, message: string, readonly line: number) {
    super(code, `line ${line}: ${message}`)
  }
}

/**
 * An exit line as a replay keeps it: its exit's number, and the text after the frame's
 * `"seq":N,` when the line is written as faultline writes it, so the replay compares its own
 * frame with it as text (replay.ts). Not the parsed frame: a long trace holds one per exit,
 * and keeping them took a quarter of a replay's time in the garbage collector. The line's
 * text stays for the rare exact comparison (a line written some other way, or a difference).
 */
export interface ExitLine {
  t: 'exit'
  seq: number
  /** The frame's `exit` (the exit's number). */
  exit: number
  /** The frame after its vm, exit and seq (from `,"vcpu":` on), or null: not faultline's layout. */
  tail: string | null
  /** The line as read (JSON.parse gives the TraceExit line back). */
  row: string
}

/** A body line as a replay goes through it: exit lines as ExitLine, the others as read. */
export type ReplayLine = Exclude<TraceBodyLine, { t: 'exit' }> | ExitLine

export interface ParsedTrace {
  header: TraceHeaderType
  /** Every line after the header, the end line last. */
  lines: ReplayLine[]
}

type Check = ReturnType<typeof Compile<TSchema>>
const checks = new Map<string, Check>()
function check (key: string, schema: TSchema): Check {
  let c = checks.get(key)
  if (c === undefined) { c = Compile(schema); checks.set(key, c) }
  return c
}

const BODY_SCHEMAS: Record<string, TSchema> = {
  run: TraceRun,
  attributes: TraceAttributes,
  poison: TracePoison,
  interrupt: TraceInterrupt,
  reset: TraceReset,
  exit: TraceExit,
  decision: TraceDecision,
  state: TraceState,
  end: TraceEnd
}

/** Lines checked between two steps of the parse (a step is a few tens of µs). */
const LINES_PER_STEP = 16
/** Bytes decoded in one step. */
const DECODE_CHUNK = 1024 * 1024

/** The whole trace in one go (tests and tools; the server uses parseTraceInTurns). */
export function parseTrace (raw: Buffer | string): ParsedTrace {
  const p = parsing(raw)
  for (;;) {
    const r = p.next()
    if (r.done === true) return r.value
  }
}

/**
 * The same parse, at most about `sliceMs` of it per turn of the event loop, as the
 * scheduler and the replay pump share the CPU: what it refuses, and the line named, are
 * parseTrace's.
 */
export async function parseTraceInTurns (raw: Buffer | string, sliceMs: number): Promise<ParsedTrace> {
  const p = parsing(raw)
  let until = performance.now() + sliceMs
  for (;;) {
    const r = p.next()
    if (r.done === true) return r.value
    if (performance.now() >= until) {
      await new Promise(resolve => setImmediate(resolve))
      until = performance.now() + sliceMs
    }
  }
}

/** The parse as steps: it yields after each chunk of bytes decoded and every LINES_PER_STEP lines. */
function * parsing (raw: Buffer | string): Generator<void, ParsedTrace, void> {
  const text = typeof raw === 'string' ? raw : yield * decoded(raw)
  if (text.trim() === '') throw new TraceError('TRACE_INVALID', 'the trace is empty: its first line is the header', 1)
  const endsClean = text.endsWith('\n')
  // Rows are taken one at a time (not split all at once): the ones not kept are garbage at
  // once, and a long trace's parse was a quarter garbage collection.
  const end = endsClean ? text.length - 1 : text.length
  let start = 0
  let n = 0
  let lastRow = false
  const nextRow = (): string => {
    let nl = text.indexOf('\n', start)
    if (nl < 0 || nl >= end) { nl = end; lastRow = true }
    const row = text.slice(start, nl)
    start = nl + 1
    n++
    return row
  }

  const header = headerOf(nextRow(), lastRow && !endsClean)
  const lines: ReplayLine[] = []
  while (!lastRow) {
    if (n % LINES_PER_STEP === 0) yield
    const row = nextRow()
    const value = json(row, n, lastRow && !endsClean)
    const line = bodyLine(value, n)
    if (line.t === 'exit') { lines.push(exitLine(line, row)); continue }
    if (line.t === 'end') {
      if (!lastRow) throw new TraceError('TRACE_INVALID', 'the end line must be the last line', n)
      if (line.lines !== n - 1) throw new TraceError('TRACE_TRUNCATED', `the end line counts ${line.lines} lines before it, the file has ${n - 1}: lines are missing`, n)
    }
    lines.push(line)
  }
  const last = n
  if (lines[lines.length - 1]?.t !== 'end') throw new TraceError('TRACE_TRUNCATED', 'the trace stops before its end line: it was cut short', last + 1)
  return { header, lines }
}

/** The bytes as UTF-8 text, a chunk a step; bytes that are not UTF-8 are refused with their line. */
function * decoded (raw: Buffer): Generator<void, string, void> {
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  let text = ''
  let at = 0
  try {
    for (; at < raw.length; at += DECODE_CHUNK) {
      text += utf8.decode(raw.subarray(at, at + DECODE_CHUNK), { stream: true })
      yield
    }
    text += utf8.decode()
  } catch {
    // In this chunk, or a sequence begun at the end of the one before (at most 3 bytes).
    throw new TraceError('TRACE_INVALID', 'bytes that are not UTF-8', badUtf8Line(raw, Math.max(0, Math.min(at, raw.length) - 3)))
  }
  return text
}

/**
 * The exit line kept for the replay. The tail is taken only when the line begins exactly
 * as write.ts writes it, from its own parsed values, and ends with the line's `}`: then
 * equal text after that prefix means an equal frame (replay.ts, sameExit).
 */
function exitLine (line: Extract<TraceBodyLine, { t: 'exit' }>, row: string): ExitLine {
  const e = line.exit
  const prefix = `{"t":"exit","seq":${line.seq},"exit":{"type":"exit","vm":${JSON.stringify(e.vm)},"exit":${e.exit},"seq":${e.seq}`
  const tail = row.startsWith(prefix) && row.endsWith('}') ? row.slice(prefix.length, -1) : null
  return { t: 'exit', seq: line.seq, exit: e.exit, tail, row }
}

function json (row: string, n: number, unterminated: boolean): unknown {
  try {
    return JSON.parse(row)
  } catch (e) {
    // The file's last line without its newline, and not JSON: the file was cut mid-line.
    if (unterminated) throw new TraceError('TRACE_TRUNCATED', 'the last line is cut short', n)
    throw new TraceError('TRACE_INVALID', `not JSON: ${(e as Error).message}`, n)
  }
}

function headerOf (row: string, unterminated: boolean): TraceHeaderType {
  const value = json(row, 1, unterminated)
  const format = (value as { format?: unknown } | null)?.format
  if (typeof value !== 'object' || value === null || (value as { t?: unknown }).t !== 'header') {
    throw new TraceError('TRACE_INVALID', 'the first line must be the header ({"t":"header",...})', 1)
  }
  const m = typeof format === 'string' ? /^faultline-trace\/(\d+)$/.exec(format) : null
  if (m !== null && Number(m[1]) > TRACE_FORMAT_VERSION) {
    throw new TraceError('TRACE_VERSION', `the trace is ${format}; this server reads ${TRACE_FORMAT}`, 1)
  }
  if (format !== TRACE_FORMAT) throw new TraceError('TRACE_INVALID', `format is ${JSON.stringify(format)}, not ${JSON.stringify(TRACE_FORMAT)}`, 1)
  const c = check('header', TraceHeader)
  if (!c.Check(value)) throw new TraceError('TRACE_INVALID', `the header ${firstError(c, value)}`, 1)
  return value as TraceHeaderType
}

function bodyLine (value: unknown, n: number): TraceBodyLine {
  const v = value as { t?: unknown, op?: unknown } | null
  const key = typeof v === 'object' && v !== null ? (v.t === 'input' ? v.op : v.t) : undefined
  const schema = typeof key === 'string' && Object.hasOwn(BODY_SCHEMAS, key) ? BODY_SCHEMAS[key] : undefined
  if (schema === undefined) throw new TraceError('TRACE_INVALID', 'not a line of the format (t: input, exit, decision, state or end; an input has op: run, attributes, poison, interrupt or reset)', n)
  const c = check(key as string, schema)
  if (!c.Check(value)) throw new TraceError('TRACE_INVALID', `the ${key as string} line ${firstError(c, value)}`, n)
  return value as TraceBodyLine
}

function firstError (c: Check, value: unknown): string {
  const e = [...c.Errors(value)][0]
  if (e === undefined) return 'is invalid'
  const where = e.instancePath === '' ? '' : `${e.instancePath.slice(1).replace(/\//g, '.')} `
  return `${where}${e.message}`.trim()
}

/**
 * The first line (from 1) holding bytes that are not UTF-8, looking from the line that
 * holds byte `from` on (the lines before it decoded).
 */
function badUtf8Line (raw: Buffer, from: number): number {
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  let line = 1
  let start = 0
  for (let nl = raw.indexOf(0x0a); nl >= 0 && nl < from; nl = raw.indexOf(0x0a, nl + 1)) {
    line++
    start = nl + 1
  }
  for (;;) {
    const nl = raw.indexOf(0x0a, start)
    const end = nl < 0 ? raw.length : nl
    try { utf8.decode(raw.subarray(start, end)) } catch { return line }
    if (nl < 0) return line
    line++
    start = nl + 1
  }
}

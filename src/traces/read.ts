// Reads a trace file: every line JSON and a line of faultline-trace/1, the header first, the
// end line last. What is wrong is refused with the line at fault (1 = the header): a newer
// format, a line cut short, a header that is not a VM this server can make again.
// POST /v1/replays checks a trace a slice at a time between the server's other work
// (parseTraceInTurns): tens of MiB take a second or more, which in one go would hold every
// VM and socket of the server that long.
import { isUtf8 } from 'node:buffer'
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
  // Driven from setImmediate itself, not an awaited promise a turn: tens of thousands of
  // turns for a large trace, each as cheap as the loop allows.
  return await new Promise((resolve, reject) => {
    const turn = (): void => {
      const until = performance.now() + sliceMs
      try {
        for (;;) {
          const r = p.next()
          if (r.done === true) { resolve(r.value); return }
          if (performance.now() >= until) break
        }
      } catch (e) {
        reject(e)
        return
      }
      setImmediate(turn)
    }
    turn()
  })
}

/**
 * A trace's rows one at a time (not split all at once: the rows not kept are garbage at
 * once; splitting first made a long trace's parse a quarter garbage collection). Bytes
 * are decoded row by row, so no text of the whole trace is made: decoding or flattening
 * tens of MiB in one go would hold the event loop that long.
 */
class Rows {
  /** The row last taken (from 1). */
  n = 0
  /** Whether the row last taken is the last one. */
  last = false
  readonly endsClean: boolean
  private readonly end: number
  private start = 0

  constructor (private readonly raw: Buffer | string) {
    this.endsClean = typeof raw === 'string' ? raw.endsWith('\n') : raw[raw.length - 1] === 0x0a
    this.end = this.endsClean ? raw.length - 1 : raw.length
    // Bytes may begin with a byte order mark, which decoding drops (TextDecoder does too).
    if (typeof raw !== 'string' && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) this.start = 3
  }

  take (): string {
    const raw = this.raw
    let nl = typeof raw === 'string' ? raw.indexOf('\n', this.start) : raw.indexOf(0x0a, this.start)
    if (nl < 0 || nl >= this.end) { nl = this.end; this.last = true }
    const row = typeof raw === 'string' ? raw.slice(this.start, nl) : raw.toString('utf8', this.start, nl)
    this.start = nl + 1
    this.n++
    return row
  }

  /** Whether nothing but white space comes after the row last taken. */
  restIsBlank (): boolean {
    const raw = this.raw
    return (typeof raw === 'string' ? raw.slice(this.start) : raw.toString('utf8', this.start)).trim() === ''
  }
}

/** The parse as steps: it yields every LINES_PER_STEP lines. */
function * parsing (raw: Buffer | string): Generator<void, ParsedTrace, void> {
  // Checked whole first (native, about 5 ms for 40 MiB), so a bad byte is reported before
  // anything else, as when the whole trace was decoded at once.
  if (typeof raw !== 'string' && !isUtf8(raw)) throw new TraceError('TRACE_INVALID', 'bytes that are not UTF-8', badUtf8Line(raw))
  const rows = new Rows(raw)
  const first = rows.take()
  if (first.trim() === '' && (rows.last || rows.restIsBlank())) throw new TraceError('TRACE_INVALID', 'the trace is empty: its first line is the header', 1)
  const header = headerOf(first, rows.last && !rows.endsClean)
  const lines: ReplayLine[] = []
  while (!rows.last) {
    if (rows.n % LINES_PER_STEP === 0) yield
    const row = rows.take()
    const n = rows.n
    const value = json(row, n, rows.last && !rows.endsClean)
    const line = bodyLine(value, n)
    if (line.t === 'exit') { lines.push(exitLine(line, row)); continue }
    if (line.t === 'end') {
      if (!rows.last) throw new TraceError('TRACE_INVALID', 'the end line must be the last line', n)
      if (line.lines !== n - 1) throw new TraceError('TRACE_TRUNCATED', `the end line counts ${line.lines} lines before it, the file has ${n - 1}: lines are missing`, n)
    }
    lines.push(line)
  }
  if (lines[lines.length - 1]?.t !== 'end') throw new TraceError('TRACE_TRUNCATED', 'the trace stops before its end line: it was cut short', rows.n + 1)
  return { header, lines }
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

/** The first line (from 1) holding bytes that are not UTF-8. */
function badUtf8Line (raw: Buffer): number {
  let line = 1
  let start = 0
  for (;;) {
    const nl = raw.indexOf(0x0a, start)
    const end = nl < 0 ? raw.length : nl
    if (!isUtf8(raw.subarray(start, end))) return line
    if (nl < 0) return line
    line++
    start = nl + 1
  }
}

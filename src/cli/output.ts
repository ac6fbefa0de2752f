// Where a command writes: stdout and stderr behind a small interface, so that commands can be
// driven by tests with captured output, and whether colour and a live status line apply.
import type { Paint } from './format.js'
import { painter } from './format.js'

export interface Output {
  out: (line: string) => void
  err: (line: string) => void
  /** Rewrites the one status line at the bottom of a terminal; a no-op elsewhere. */
  status: (line: string) => void
  /** Ends the status line so that normal output continues below it. */
  endStatus: () => void
  paint: Paint
  json: boolean
  tty: boolean
}

export function terminalOutput (opts: { colour: boolean, json: boolean, tty: boolean }): Output {
  let statusShown = false
  const clearStatus = (): void => {
    if (statusShown) { process.stdout.write('\r\x1b[K'); statusShown = false }
  }
  return {
    out: (line) => { clearStatus(); process.stdout.write(line + '\n') },
    err: (line) => { clearStatus(); process.stderr.write(line + '\n') },
    status: (line) => {
      if (!opts.tty || opts.json) return
      const width = process.stdout.columns ?? 120
      process.stdout.write('\r\x1b[K' + line.slice(0, Math.max(10, width - 1)))
      statusShown = true
    },
    endStatus: () => { if (statusShown) { process.stdout.write('\n'); statusShown = false } },
    paint: painter(opts.colour && !opts.json),
    json: opts.json,
    tty: opts.tty
  }
}

/** Output captured in arrays, for tests. */
export function memoryOutput (opts: { json?: boolean, colour?: boolean } = {}): Output & { lines: string[], errors: string[], statuses: string[] } {
  const lines: string[] = []
  const errors: string[] = []
  const statuses: string[] = []
  return {
    lines,
    errors,
    statuses,
    out: (line) => { lines.push(line) },
    err: (line) => { errors.push(line) },
    status: (line) => { statuses.push(line) },
    endStatus: () => {},
    paint: painter(opts.colour ?? false),
    json: opts.json ?? false,
    tty: false
  }
}

// A faultline server as its own process (`node --import tsx src/main.ts`), for what only a
// process shows: signals, exit codes, running out of file descriptors. It listens on a free
// port of 127.0.0.1; its JSON log lines are kept. Every wait is bounded.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CHILD_TOKEN = 'child-server-token-0000001'

export interface ChildServer {
  proc: ChildProcess
  port: number
  /** Log lines (parsed JSON) so far. */
  lines: Array<{ level: number, msg?: string } & Record<string, unknown>>
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Starts the server; `openFiles` lowers its open-files limit (ulimit -n) for it alone. */
export async function startChild (env: Record<string, string> = {}, openFiles?: number): Promise<ChildServer> {
  const args = ['--import', 'tsx', 'src/main.ts']
  // A data folder of its own unless the test brings one (to restart on it): removed at exit.
  const made = env.FAULTLINE_DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), 'faultline-child-')) : undefined
  const full = childEnv({ ...(made === undefined ? {} : { FAULTLINE_DATA_DIR: made }), ...env })
  const proc = openFiles === undefined
    ? spawn(process.execPath, args, { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('sh', ['-c', `ulimit -n ${openFiles} && exec "$0" "$@"`, process.execPath, ...args], { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: ChildServer['lines'] = []
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    proc.on('exit', (code, signal) => {
      if (made !== undefined) rmSync(made, { recursive: true, force: true })
      resolve({ code, signal })
    })
  })
  let stderr = ''
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  let buf = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`the server did not listen within 30 s: ${stderr}`)) }, 30_000)
    void exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`the server exited (${code ?? 'signal'}) before listening: ${stderr}`)) })
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        try { lines.push(JSON.parse(line) as ChildServer['lines'][number]) } catch { continue }
        const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(lines[lines.length - 1]?.msg ?? '')
        if (m !== null) { clearTimeout(timer); resolve(Number(m[1])) }
      }
    })
  })
  return { proc, port, lines, exited }
}

function childEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    FAULTLINE_TOKEN: CHILD_TOKEN,
    // tap instruments child processes too, but this one runs the sources through tsx, whose
    // output maps differently: its coverage would be merged wrongly into the tests' own.
    _TAPJS_PROCESSINFO_COVERAGE_: '0',
    ...env
  }
}

/** Kills the process if a test left it running (teardown). */
export function stopChild (c: ChildServer): void {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
}

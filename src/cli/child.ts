// The user's controller as a child process, for `faultline check` and `faultline test`: started
// in its own process group with the connection in its environment, its output kept (the tail)
// for the report, and stopped in bounded time: it may end by itself, then SIGTERM, then SIGKILL
// to the whole group, so that nothing it started outlives the run.
import { spawn } from 'node:child_process'

/** How much of the controller's output (stdout and stderr together) is kept. */
const TAIL_BYTES = 16 * 1024

export interface ControllerProcess {
  /** Resolves when the process has ended: "exit code 0", "signal SIGTERM", "failed to start: ENOENT". */
  readonly ended: Promise<string>
  /** Undefined while it runs. */
  readonly endedAs: string | undefined
  /** The last lines it wrote. */
  output: () => string
  /** Waits up to graceMs for it to end, then SIGTERM, then SIGKILL after killMs; resolves with how it ended. */
  stop: (graceMs: number, killMs?: number) => Promise<string>
}

/** Groups still running: killed if this process exits first (a second Ctrl-C, say), as they are not in our group. */
const live = new Set<number>()
const killLive = (): void => { for (const pid of live) { try { process.kill(-pid, 'SIGKILL') } catch { /* gone */ } } }

export function startController (command: readonly string[], env: NodeJS.ProcessEnv): ControllerProcess {
  const [file, ...args] = command
  if (file === undefined) throw new Error('no controller command')
  let tail = ''
  let endedAs: string | undefined
  const keep = (chunk: Buffer): void => {
    tail += chunk.toString('utf8')
    if (tail.length > TAIL_BYTES) tail = tail.slice(tail.length - TAIL_BYTES)
  }
  const child = spawn(file, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = child.pid
  if (pid !== undefined) {
    if (live.size === 0) process.once('exit', killLive)
    live.add(pid)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const forget = (): void => {
    if (pid === undefined || !live.delete(pid)) return
    if (live.size === 0) process.off('exit', killLive)
  }
  const ended = new Promise<string>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => { endedAs ??= `failed to start: ${e.code ?? e.message}`; resolve(endedAs) })
    child.once('close', (code, signal) => { endedAs ??= signal !== null ? `signal ${signal}` : `exit code ${code ?? 0}`; resolve(endedAs) })
  })
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return
    // The group may be gone already (ESRCH): nothing left to stop.
    try { process.kill(-child.pid, signal) } catch { /* gone */ }
  }
  const within = async (ms: number): Promise<boolean> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
    try { return await Promise.race([ended.then(() => true), late]) } finally { clearTimeout(timer) }
  }
  return {
    ended,
    get endedAs () { return endedAs },
    output: () => tail,
    stop: async (graceMs, killMs = 2000) => {
      if (!(await within(graceMs))) {
        signalGroup('SIGTERM')
        if (!(await within(killMs))) signalGroup('SIGKILL')
      }
      const how = await ended
      // Whatever it started in its group goes with it.
      signalGroup('SIGKILL')
      forget()
      return how
    }
  }
}

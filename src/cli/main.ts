#!/usr/bin/env node
// The `faultline` command: parse, connect, run one command, and turn every failure into one
// readable line and an exit code (0 ok, 1 failed, 2 lost control, 64 usage, 130 interrupted).
import { realpathSync } from 'node:fs'
import { createInterface } from 'node:readline/promises'
import { pathToFileURL } from 'node:url'
import { FaultlineClient } from '../client/client.js'
import { FaultlineApiError, FaultlineStreamError } from '../client/errors.js'
import { parseCli, USAGE, UsageError, VM_USAGE } from './args.js'
import { readTextFile, resolveConnection } from './config.js'
import { runDecide } from './decide.js'
import { wantsColour } from './format.js'
import type { Ask } from './interactive.js'
import { terminalOutput } from './output.js'
import type { Output } from './output.js'
import { runServe } from './serve.js'
import { runCheck } from './check/command.js'
import { runRecord } from './record.js'
import { runTest } from './replays.js'
import { openSession } from './session.js'
import { runVmCommand } from './vm-commands.js'
import { runWatch } from './watch.js'

export const EXIT_USAGE = 64

/** One line for any failure: the server's code and errno when it gave them. */
export function describeError (e: unknown, url: string): string {
  if (e instanceof FaultlineApiError) return `${e.code} (HTTP ${e.statusCode}): ${e.message}${e.errno !== undefined ? ` [${e.errno}]` : ''}`
  if (e instanceof FaultlineStreamError) return `${e.code}: ${e.message}`
  const cause = (e as { cause?: { code?: string } }).cause
  if (e instanceof TypeError && (cause?.code === 'ECONNREFUSED' || e.message === 'fetch failed')) {
    return `cannot reach ${url}${cause?.code !== undefined ? ` (${cause.code})` : ''}: is the server running? (faultline serve)`
  }
  return e instanceof Error ? e.message : String(e)
}

/** Where main writes, and how it makes the Output of a command: the terminal unless a test says otherwise. */
export interface MainIo {
  write: (text: string) => void
  writeErr: (text: string) => void
  output: (opts: { colour: boolean, json: boolean, tty: boolean }) => Output
  tty: boolean
}

const processIo: MainIo = {
  write: (text) => { process.stdout.write(text) },
  writeErr: (text) => { process.stderr.write(text) },
  output: terminalOutput,
  tty: process.stdout.isTTY === true
}

function terminalAsk (out: Output): Ask | undefined {
  if (process.stdin.isTTY !== true) return undefined
  return async (question) => {
    out.endStatus()
    const rl = createInterface({ input: process.stdin, output: process.stdout })
    try { return await rl.question(question) } finally { rl.close() }
  }
}

export async function main (argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env, io: MainIo = processIo): Promise<number> {
  let parsed
  try {
    parsed = parseCli(argv)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    io.writeErr(`faultline: ${e.message}\n\n${e.topic === 'vm' ? VM_USAGE : USAGE}`)
    return EXIT_USAGE
  }
  const { globals, command } = parsed
  if (command.kind === 'help') {
    io.write(command.topic === 'vm' ? VM_USAGE : USAGE)
    return 0
  }
  if (command.kind === 'version') {
    const { VERSION } = await import('../version.js')
    io.write(`faultline ${VERSION}\n`)
    return 0
  }
  if (command.kind === 'serve') return await runServe(command, (line) => { io.writeErr(line + '\n') })

  const connection = resolveConnection(globals, env)
  const client = new FaultlineClient({ url: connection.url, ...(connection.token !== undefined ? { token: connection.token } : {}) })
  const tty = io.tty
  const out = io.output({ colour: globals.colour ?? wantsColour(tty, env), json: globals.json, tty })
  // First Ctrl-C: stop cleanly (print the tally, close the socket); a second one: now.
  const abort = new AbortController()
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(130)
    abort.abort()
  }
  process.on('SIGINT', onSigint)
  try {
    switch (command.kind) {
      case 'check':
      case 'test': {
        const session = await openSession(globals, env)
        try {
          if (command.kind === 'check') return await runCheck(session, command, out, { env, signal: abort.signal })
          return await runTest(session, command, out, { env, signal: abort.signal })
        } finally {
          await session.close()
        }
      }
      // A server of its own would hold no VM to record: record always talks to the named one.
      case 'record': return await runRecord({ client, url: connection.url, token: connection.token, local: false, close: async () => {} }, command, out, { signal: abort.signal })
      case 'watch': return await runWatch(client, command, out, { signal: abort.signal })
      case 'decide': {
        const vm = command.vm ?? (env.FAULTLINE_VM !== '' ? env.FAULTLINE_VM : undefined)
        if (vm === undefined) throw new UsageError('missing the VM to decide for (an id, a name, or FAULTLINE_VM)')
        const ask = io === processIo ? terminalAsk(out) : undefined
        return await runDecide(client, { ...command, vm }, out, { read: readTextFile, ...(ask !== undefined ? { ask } : {}), signal: abort.signal })
      }
      default: return await runVmCommand(client, command, out, readTextFile)
    }
  } catch (e) {
    if (e instanceof UsageError) {
      out.err(`faultline: ${e.message}`)
      return EXIT_USAGE
    }
    out.err(`faultline: ${describeError(e, connection.url)}`)
    if (e instanceof FaultlineApiError && e.statusCode === 401 && connection.tokenSource === 'none') {
      out.err('no token: pass --token, set FAULTLINE_TOKEN, or run where the server wrote data/token')
    }
    return 1
  } finally {
    process.off('SIGINT', onSigint)
  }
}

/** Run when executed (node src/cli/main.ts, or the `faultline` bin through its symlink). */
function isEntryPoint (): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try { return import.meta.url === pathToFileURL(realpathSync(script)).href } catch { return false }
}

if (isEntryPoint()) {
  main().then((code) => {
    // serve keeps running on its own handles; everything else is done.
    if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code
  }, (e: unknown) => {
    process.stderr.write(`faultline: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exitCode = 1
  })
}

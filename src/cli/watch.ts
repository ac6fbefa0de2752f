// `faultline watch <vm|*>`: a live view of one VM (or all) as an observer. One line per
// event, state changes highlighted, a running tally on the terminal's last line; JSON lines
// with --json. Ends when the VM reaches a final state (unless --follow) or on Ctrl-C.
import type { FaultlineClient } from '../client/client.js'
import type { ExitStreamOptions } from '../client/stream.js'
import type { Command } from './args.js'
import { FINAL_STATES } from './controller.js'
import { formatDecidedLine, formatExitLine, formatStateLine } from './format.js'
import type { Output } from './output.js'
import { Tally } from './tally.js'
import { resolveVm } from './vm-commands.js'

export type WatchCommand = Extract<Command, { kind: 'watch' }>

export interface WatchDeps {
  signal?: AbortSignal
  streamOptions?: Omit<ExitStreamOptions, 'url' | 'token'>
  now?: () => Date
}

/** Reconnects, gaps and stray errors, as the watch view reports them on stderr. */
export function attachStreamReports (stream: ReturnType<FaultlineClient['stream']>, out: Output): void {
  stream.on('reconnect', (r) => out.err(out.paint(`connection lost (${r.code}); reconnecting, attempt ${r.attempt} in ${r.delayMs} ms`, 'yellow')))
  stream.on('hello', () => { if (stream.subscriptions.size > 0) out.err(out.paint('reconnected', 'green')) })
  stream.on('gap', (g) => out.err(out.paint(`events of ${g.vm} after seq ${g.since} are gone: resumed at seq ${g.seq}`, 'red')))
  stream.on('error', (e) => out.err(out.paint(`stream error ${e.code}: ${e.message}`, 'red')))
}

export async function runWatch (client: FaultlineClient, command: WatchCommand, out: Output, deps: WatchDeps = {}): Promise<number> {
  const now = deps.now ?? (() => new Date())
  const vm = command.vm === '*' ? '*' : (await resolveVm(client, command.vm)).id
  // Events only: nothing reads exits(), so nothing needs buffering.
  const stream = client.stream({ exitBuffer: 0, ...deps.streamOptions })
  const tally = new Tally()
  let finish!: (code: number) => void
  const done = new Promise<number>((resolve) => { finish = resolve })
  const show = (json: unknown, line: string): void => {
    out.out(out.json ? JSON.stringify(json) : line)
    out.status(tally.line())
  }
  stream.on('exit', (e) => { tally.exit(e); show(e, formatExitLine(e, now(), out.paint)) })
  stream.on('decided', (d) => { tally.decidedEvent(d); show(d, formatDecidedLine(d, now(), out.paint)) })
  stream.on('state', (s) => {
    tally.stateEvent(s)
    show(s, formatStateLine(s, now(), out.paint))
    if (s.vm === vm && (s.state === 'deleted' || (!command.follow && FINAL_STATES.has(s.state)))) finish(0)
  })
  stream.on('close', () => finish(1))
  attachStreamReports(stream, out)
  const onAbort = (): void => finish(0)
  deps.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await stream.subscribe(vm, { role: 'observer', ...(command.since !== undefined ? { since: command.since } : {}) })
    if (vm !== '*' && !command.follow) {
      const info = await client.getVm(vm)
      if (FINAL_STATES.has(info.state) && command.since === undefined) {
        out.err(`${vm} is ${info.state}; --follow to wait for it to start again`)
        finish(0)
      }
    }
    const code = await done
    out.endStatus()
    if (!out.json) out.out(out.paint(tally.line(), 'bold'))
    return code
  } finally {
    deps.signal?.removeEventListener('abort', onAbort)
    await stream.close()
  }
}

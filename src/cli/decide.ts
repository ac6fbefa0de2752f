// `faultline decide <vm> --policy <name|file>`: be the VM's controller and answer every exit
// with a policy, guarded against the no-guest_memfd loop. Prints one line per decision and
// a tally; ends when the VM reaches a final state (unless --follow), on Ctrl-C, or when
// another controller takes over.
import type { FaultlineClient } from '../client/client.js'
import type { ExitStreamOptions } from '../client/stream.js'
import type { Command } from './args.js'
import { UsageError } from './args.js'
import type { ReadText } from './config.js'
import { runController } from './controller.js'
import { clockTime, describeExit, formatStateLine } from './format.js'
import { interactivePolicy } from './interactive.js'
import type { Ask } from './interactive.js'
import type { Output } from './output.js'
import { BUILTIN_POLICIES } from './policies.js'
import type { AsyncPolicy } from './policies.js'
import { compilePolicyFile, parsePolicyFile, PolicyFileError } from './policy-file.js'
import { withRepeatGuard } from './repeat-guard.js'
import { percentile, Tally } from './tally.js'
import { resolveVm } from './vm-commands.js'
import { attachStreamReports } from './watch.js'

export type DecideCommand = Extract<Command, { kind: 'decide' }> & { vm: string }

/** A built-in policy by name, `interactive` (needs a terminal), or a JSON policy file. */
export function loadPolicy (spec: string, read: ReadText, ask?: Ask): AsyncPolicy {
  const builtin = BUILTIN_POLICIES[spec]
  if (builtin !== undefined) return builtin
  if (spec === 'interactive') {
    if (ask === undefined) throw new UsageError('the interactive policy needs a terminal on stdin')
    return interactivePolicy(ask)
  }
  const text = read(spec)
  if (text === undefined) {
    throw new UsageError(`${spec} is neither a policy (${[...Object.keys(BUILTIN_POLICIES), 'interactive'].join(', ')}) nor a readable file`)
  }
  try {
    return compilePolicyFile(parsePolicyFile(JSON.parse(text)))
  } catch (e) {
    if (e instanceof PolicyFileError || e instanceof SyntaxError) throw new UsageError(`policy file ${spec}: ${e.message}`)
    throw e
  }
}

export interface DecideDeps {
  read: ReadText
  ask?: Ask
  signal?: AbortSignal
  streamOptions?: Omit<ExitStreamOptions, 'url' | 'token'>
  now?: () => Date
}

export async function runDecide (client: FaultlineClient, command: DecideCommand, out: Output, deps: DecideDeps): Promise<number> {
  const now = deps.now ?? (() => new Date())
  const policy = withRepeatGuard(loadPolicy(command.policy, deps.read, deps.ask), command.maxRepeats)
  const vm = (await resolveVm(client, command.vm)).id
  const stream = client.stream(deps.streamOptions)
  attachStreamReports(stream, out)
  const tally = new Tally()
  try {
    const end = await runController({
      client,
      stream,
      vm,
      policy,
      takeover: command.takeover,
      follow: command.follow,
      ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
      onExit: (exit) => { tally.exit(exit) },
      onDecision: (exit, decision, outcome) => {
        const p = out.paint
        const head = `${p(clockTime(now()), 'dim')} #${exit.exit} vcpu ${exit.vcpu} ${describeExit(exit)}`
        if (outcome.ok) {
          tally.decidedEvent({ vm, exit: exit.exit, action: decision.action })
          tally.roundTrip(outcome.ms)
          if (out.json) out.out(JSON.stringify({ exit: exit.exit, vcpu: exit.vcpu, reason: exit.reason, ...decision, ms: outcome.ms }))
          else out.out(`${head} -> ${p(decision.action, decision.action === 'kill' ? 'red' : decision.action === 'convert' ? 'magenta' : 'green')}${decision.reason !== undefined ? p(` (${decision.reason})`, 'dim') : ''}`)
        } else {
          const then = outcome.fallback !== undefined ? `; ${outcome.fallback.action} instead` : ''
          out.err(`${head} -> ${decision.action} refused: ${outcome.error.code} ${outcome.error.message}${then}`)
        }
        out.status(tally.line())
      },
      onState: (s) => {
        tally.stateEvent(s)
        if (out.json) out.out(JSON.stringify(s))
        else out.out(formatStateLine(s, now(), out.paint))
      }
    })
    out.endStatus()
    if (!out.json) {
      out.out(out.paint(tally.line(), 'bold'))
      if (tally.roundTripsMs.length > 0) {
        out.out(`decision round trip: p50 ${percentile(tally.roundTripsMs, 50).toFixed(2)} ms, p99 ${percentile(tally.roundTripsMs, 99).toFixed(2)} ms`)
      }
    }
    if (end.reason === 'revoked') {
      out.err(`another controller took ${vm} over`)
      return 2
    }
    if (end.reason === 'final' && !out.json) out.out(`${vm} is ${end.state}`)
    return 0
  } finally {
    await stream.close()
  }
}

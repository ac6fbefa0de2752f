// `faultline record <vm> [-o FILE] [--follow]`: the VM's exit trace (GET /v1/vms/{vm}/trace,
// NDJSON) to a file or stdout, ready for `faultline test`. By default it takes the trace as
// it is now. With --follow it first waits, polling the VM, until the VM has ended (stopped,
// killed or crashed), so that a live VM's whole run is in the file.
import { writeFileSync } from 'node:fs'
import type { Command } from './args.js'
import type { Output } from './output.js'
import type { Session } from './session.js'
import { resolveVm } from './vm-commands.js'

export type RecordCommand = Extract<Command, { kind: 'record' }>

/** The header line every trace starts with. */
export const TRACE_FORMAT = 'faultline-trace/1'

const ENDED = new Set(['stopped', 'killed', 'crashed'])

export interface RecordDeps {
  /** Between two GET /v1/vms/{vm} while following (default 250 ms). */
  pollMs?: number
  signal?: AbortSignal
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Why the text is not a trace, or undefined when its first line is a faultline-trace/1 header. */
export function traceProblem (text: string): string | undefined {
  const first = text.slice(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n'))
  let header: unknown
  try { header = JSON.parse(first) } catch { return 'its first line is not JSON' }
  const format = (header as { format?: unknown } | null)?.format
  return format === TRACE_FORMAT ? undefined : `its first line is not a ${TRACE_FORMAT} header (format ${JSON.stringify(format)})`
}

export async function runRecord (session: Session, command: RecordCommand, out: Output, deps: RecordDeps = {}): Promise<number> {
  const { client } = session
  let vm = await resolveVm(client, command.vm)
  if (command.follow) {
    const deadline = performance.now() + command.timeoutMs
    while (!ENDED.has(vm.state)) {
      if (deps.signal?.aborted === true) { out.err(`interrupted: ${vm.id} is still ${vm.state}; nothing written`); return 130 }
      if (performance.now() >= deadline) { out.err(`${vm.id} is still ${vm.state} after ${command.timeoutMs} ms; nothing written`); return 1 }
      out.status(`waiting for ${vm.id} to end (${vm.state}) ...`)
      await sleep(deps.pollMs ?? 250)
      vm = await client.getVm(vm.id)
    }
    out.endStatus()
  }
  const trace = await client.trace(vm.id)
  const problem = traceProblem(trace)
  if (problem !== undefined) { out.err(`the server's answer is not a trace: ${problem}`); return 1 }
  const records = trace.split('\n').filter((l) => l !== '').length - 1
  if (command.output === undefined) {
    out.out(trace.endsWith('\n') ? trace.slice(0, -1) : trace)
  } else {
    writeFileSync(command.output, trace.endsWith('\n') ? trace : trace + '\n')
    out.err(`${vm.id} (${vm.state}): ${records} records written to ${command.output}`)
  }
  return 0
}

// The CLI's grammar: argv → one typed command, with node:util parseArgs and nothing else.
// Pure: no I/O, so every accepted and refused command line is unit-tested. Reading files
// (a program, a policy) happens later, in the commands.
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import type { CreateVmRequest, ReplayDecide, ReplayOnDivergence, VmAction, VmType } from '../client/types.js'
import { DEFAULT_MAX_REPEATS } from './repeat-guard.js'

export interface GlobalOptions {
  url?: string
  token?: string
  /** Machine-readable output: JSON documents / JSON lines instead of text. */
  json: boolean
  /** Colour: undefined = decide from the terminal. */
  colour?: boolean
}

export type Command =
  | { kind: 'help', topic?: string }
  | { kind: 'version' }
  | { kind: 'serve', host?: string, port?: number }
  | { kind: 'vm-create', body: CreateVmRequest, programFile?: string }
  | { kind: 'vm-list', limit?: number, all: boolean }
  | { kind: 'vm-show' | 'vm-rm' | 'vm-memory' | 'vm-exits', vm: string }
  | { kind: 'vm-action', vm: string, action: VmAction }
  | { kind: 'presets' }
  | { kind: 'watch', vm: string, since?: number, follow: boolean }
  /** `vm` absent: FAULTLINE_VM names it (as `check` and `test` set it for the controllers they start). */
  | { kind: 'decide', vm?: string, policy: string, takeover: boolean, maxRepeats: number, follow: boolean }
  | { kind: 'check', controller: string[], cases: string[], timeoutMs: number, junit?: string }
  | {
    kind: 'test'
    traces: string[]
    controller: string[]
    decide: ReplayDecide
    onDivergence: ReplayOnDivergence
    timeoutMs: number
    junit?: string
  }
  | { kind: 'record', vm: string, output?: string, follow: boolean, timeoutMs: number }

export interface ParsedCli { globals: GlobalOptions, command: Command }

export class UsageError extends Error {
  constructor (message: string, readonly topic?: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

const GLOBAL_OPTIONS: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
}

const VM_ACTIONS: readonly VmAction[] = ['start', 'stop', 'pause', 'resume', 'kill', 'reset']
const VM_TYPES: readonly VmType[] = ['default', 'sw_protected', 'snp', 'tdx']


export const USAGE = `faultline: simulated confidential VMs and their vCPU exits

usage: faultline [--url URL] [--token TOKEN] [--json] <command>

  serve [--host H] [--port P]        start the server (same as npm start)
  vm create [flags]                  create a VM (see: faultline help vm)
  vm list [--limit N] [--all]        list VMs
  vm show|rm|memory|exits <vm>       one VM, delete it, its memory map, its exit journal
  vm start|stop|pause|resume|kill|reset <vm>
  presets                            the built-in guest programs
  watch <vm|*> [--since SEQ] [--follow]
                                     a live view of exits, decisions and states
  decide [<vm>] --policy <name|file> [--takeover] [--max-repeats N] [--follow]
                                     decide the VM's (default $FAULTLINE_VM) exits: always-convert,
                                     convert-explicit-kill-implicit, interactive, or a
                                     JSON policy file (see docs/cli.md)
  check [--case NAME]... [--timeout MS] [--junit FILE] -- <controller command...>
                                     run a controller through every tricky case and
                                     grade its decisions (docs/ci.md)
  test <trace|dir>... [--decide controller|recorded] [--on-divergence stop|continue|use_recorded]
       [--timeout MS] [--junit FILE] [-- <controller command...>]
                                     replay recorded traces against a controller (docs/ci.md)
  record <vm> [-o FILE] [--follow] [--timeout MS]
                                     write the VM's exit trace (NDJSON) to FILE or stdout

  --url     FAULTLINE_URL, default http://127.0.0.1:8080 (check and test
            start a server of their own when neither is given)
  --token   FAULTLINE_TOKEN, else the token the server wrote to ./data/token
  --json    JSON output; --no-color turns colour off (so does NO_COLOR)
`

export const VM_USAGE = `usage: faultline vm <command>

  create [flags]                     create a VM, flags below
  list [--limit N] [--all]           the caller's VMs
  show|rm|memory|exits <vm>          one VM (an id or a name), delete it, its memory map, its exits
  start|stop|pause|resume|kill|reset <vm>

vm create flags:

  --name NAME             unique per tenant
  --type TYPE             default | sw_protected | snp | tdx (default tdx)
  --vcpus N               1..256 (default 1)
  --memory-mib N          one memslot at gpa 0 (default 1024, or the preset's size)
  --preset NAME           a built-in program (faultline presets)
  --program FILE.json     a guest program: a JSON array of instructions
  --seed N                all guest randomness derives from it
  --gpaw 48|52            TDX guest physical address width
  --autostart             start it at once
`

function parse (args: string[], options: Options): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true })
    return { values: values as Record<string, string | boolean | undefined>, positionals }
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
}

/** A decimal integer within [min, max], or a usage error naming the flag. */
export function intFlag (name: string, raw: string | boolean | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined
  const text = String(raw)
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} takes an integer from ${min} to ${max}, not ${JSON.stringify(text)}`)
  return n
}

const str = (v: string | boolean | undefined): string | undefined => typeof v === 'string' ? v : undefined

/** The first word(s) that name the command, skipping global options and their values. */
function commandWords (argv: string[]): string[] {
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--url' || arg === '--token') { i++; continue }
    if (arg.startsWith('-')) continue
    words.push(arg)
    if (words.length === 2) break
  }
  return words
}

function globalsOf (values: Record<string, string | boolean | undefined>): GlobalOptions {
  const globals: GlobalOptions = { json: values.json === true }
  const url = str(values.url)
  const token = str(values.token)
  if (url !== undefined) globals.url = url
  if (token !== undefined) globals.token = token
  if (values['no-color'] === true) globals.colour = false
  else if (values.color === true) globals.colour = true
  return globals
}

function onePositional (positionals: string[], skip: number, what: string, topic?: string): string {
  const rest = positionals.slice(skip)
  if (rest.length !== 1) throw new UsageError(rest.length === 0 ? `missing ${what}` : `unexpected arguments: ${rest.slice(1).join(' ')}`, topic)
  return rest[0] as string
}

export function parseCli (full: string[]): ParsedCli {
  // What follows `--` is a command to run (check, test), never options of ours.
  const dashes = full.indexOf('--')
  const argv = dashes < 0 ? full : full.slice(0, dashes)
  const trailing = dashes < 0 ? undefined : full.slice(dashes + 1)
  const [first, second] = commandWords(argv)
  if (trailing !== undefined && first !== 'check' && first !== 'test') throw new UsageError(`${first ?? 'faultline'} runs no command: nothing may follow --`)
  if (first === undefined || first === 'help') {
    const { values } = parse(argv, {})
    return { globals: globalsOf(values), command: { kind: 'help', ...(second !== undefined ? { topic: second } : {}) } }
  }
  switch (first) {
    case 'version': {
      const { values } = parse(argv, {})
      return { globals: globalsOf(values), command: { kind: 'version' } }
    }
    case 'serve': {
      const { values, positionals } = parse(argv, { host: { type: 'string' }, port: { type: 'string' } })
      if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`)
      const command: Command = { kind: 'serve' }
      const host = str(values.host)
      const port = intFlag('port', values.port, 0, 65535)
      if (host !== undefined) command.host = host
      if (port !== undefined) command.port = port
      return { globals: globalsOf(values), command }
    }
    case 'presets': {
      const { values } = parse(argv, {})
      return { globals: globalsOf(values), command: { kind: 'presets' } }
    }
    case 'vm': return parseVm(argv, second)
    case 'watch': {
      const { values, positionals } = parse(argv, { since: { type: 'string' }, follow: { type: 'boolean' } })
      const vm = onePositional(positionals, 1, 'the VM to watch (an id, a name, or *)')
      const since = intFlag('since', values.since, 0, Number.MAX_SAFE_INTEGER)
      // Watching every VM has no natural end.
      const command: Command = { kind: 'watch', vm, follow: values.follow === true || vm === '*' }
      if (since !== undefined) command.since = since
      return { globals: globalsOf(values), command }
    }
    case 'decide': {
      const { values, positionals } = parse(argv, {
        policy: { type: 'string' }, takeover: { type: 'boolean' }, 'max-repeats': { type: 'string' }, follow: { type: 'boolean' }
      })
      const vm = positionals.length === 1 ? undefined : onePositional(positionals, 1, 'the VM to decide for')
      if (vm === '*') throw new UsageError('a controller decides for one VM, not *')
      const policy = str(values.policy)
      if (policy === undefined) throw new UsageError('--policy is required: always-convert, convert-explicit-kill-implicit, interactive, or a JSON file')
      return {
        globals: globalsOf(values),
        command: {
          kind: 'decide',
          ...(vm !== undefined ? { vm } : {}),
          policy,
          takeover: values.takeover === true,
          maxRepeats: intFlag('max-repeats', values['max-repeats'], 1, 1_000_000) ?? DEFAULT_MAX_REPEATS,
          follow: values.follow === true
        }
      }
    }
    case 'check': return parseCheck(argv, trailing)
    case 'test': return parseTest(argv, trailing)
    case 'record': return parseRecord(argv)
    default:
      throw new UsageError(`unknown command: ${first}`)
  }
}

const TIMEOUT_MAX_MS = 24 * 3600 * 1000

function parseCheck (argv: string[], controller: string[] | undefined): ParsedCli {
  const { values, positionals } = parse(argv, { case: { type: 'string', multiple: true }, timeout: { type: 'string' }, junit: { type: 'string' } })
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')} (the controller goes after --)`)
  if (controller === undefined || controller.length === 0) throw new UsageError('check needs the controller to run: faultline check -- <command...>')
  const junit = str(values.junit)
  return {
    globals: globalsOf(values),
    command: {
      kind: 'check',
      controller,
      cases: (values.case as unknown as string[] | undefined) ?? [],
      timeoutMs: intFlag('timeout', values.timeout, 100, TIMEOUT_MAX_MS) ?? 10_000,
      ...(junit !== undefined ? { junit } : {})
    }
  }
}

function parseTest (argv: string[], controller: string[] | undefined): ParsedCli {
  const { values, positionals } = parse(argv, {
    decide: { type: 'string' }, 'on-divergence': { type: 'string' }, timeout: { type: 'string' }, junit: { type: 'string' }
  })
  const traces = positionals.slice(1)
  if (traces.length === 0) throw new UsageError('test needs trace files or directories: faultline test <trace|dir>... -- <command...>')
  const decide = str(values.decide) ?? 'controller'
  if (decide !== 'controller' && decide !== 'recorded') throw new UsageError(`--decide is controller or recorded, not ${JSON.stringify(decide)}`)
  const onDivergence = str(values['on-divergence']) ?? 'continue'
  if (onDivergence !== 'stop' && onDivergence !== 'continue' && onDivergence !== 'use_recorded') {
    throw new UsageError(`--on-divergence is stop, continue or use_recorded, not ${JSON.stringify(onDivergence)}`)
  }
  if (decide === 'controller' && (controller === undefined || controller.length === 0)) {
    throw new UsageError('test needs the controller to run (faultline test <traces> -- <command...>), or --decide recorded')
  }
  if (decide === 'recorded' && controller !== undefined && controller.length > 0) throw new UsageError('--decide recorded runs no controller: drop the command after --')
  const junit = str(values.junit)
  return {
    globals: globalsOf(values),
    command: {
      kind: 'test',
      traces,
      controller: controller ?? [],
      decide,
      onDivergence,
      timeoutMs: intFlag('timeout', values.timeout, 100, TIMEOUT_MAX_MS) ?? 60_000,
      ...(junit !== undefined ? { junit } : {})
    }
  }
}

function parseRecord (argv: string[]): ParsedCli {
  const { values, positionals } = parse(argv, { output: { type: 'string', short: 'o' }, follow: { type: 'boolean' }, timeout: { type: 'string' } })
  const vm = onePositional(positionals, 1, 'the VM to record (an id or a name)')
  const output = str(values.output)
  return {
    globals: globalsOf(values),
    command: {
      kind: 'record',
      vm,
      follow: values.follow === true,
      timeoutMs: intFlag('timeout', values.timeout, 100, TIMEOUT_MAX_MS) ?? 600_000,
      ...(output !== undefined ? { output } : {})
    }
  }
}

function parseVm (argv: string[], sub: string | undefined): ParsedCli {
  if (sub === undefined) throw new UsageError('missing a vm command: create, list, show, rm, memory, exits, start, stop, pause, resume, kill, reset', 'vm')
  if (sub === 'create') return parseVmCreate(argv)
  if (sub === 'list') {
    const { values, positionals } = parse(argv, { limit: { type: 'string' }, all: { type: 'boolean' } })
    if (positionals.length > 2) throw new UsageError(`unexpected arguments: ${positionals.slice(2).join(' ')}`)
    const command: Command = { kind: 'vm-list', all: values.all === true }
    const limit = intFlag('limit', values.limit, 1, 500)
    if (limit !== undefined) command.limit = limit
    return { globals: globalsOf(values), command }
  }
  const known = ['show', 'rm', 'memory', 'exits', ...VM_ACTIONS]
  if (!known.includes(sub)) throw new UsageError(`unknown vm command: ${sub}`, 'vm')
  const { values, positionals } = parse(argv, {})
  const vm = onePositional(positionals, 2, 'the VM (an id or a name)', 'vm')
  const globals = globalsOf(values)
  switch (sub) {
    case 'show': return { globals, command: { kind: 'vm-show', vm } }
    case 'rm': return { globals, command: { kind: 'vm-rm', vm } }
    case 'memory': return { globals, command: { kind: 'vm-memory', vm } }
    case 'exits': return { globals, command: { kind: 'vm-exits', vm } }
    default: return { globals, command: { kind: 'vm-action', vm, action: sub as VmAction } }
  }
}

function parseVmCreate (argv: string[]): ParsedCli {
  const { values, positionals } = parse(argv, {
    name: { type: 'string' },
    type: { type: 'string' },
    vcpus: { type: 'string' },
    'memory-mib': { type: 'string' },
    preset: { type: 'string' },
    program: { type: 'string' },
    seed: { type: 'string' },
    gpaw: { type: 'string' },
    autostart: { type: 'boolean' }
  })
  if (positionals.length > 2) throw new UsageError(`unexpected arguments: ${positionals.slice(2).join(' ')}`, 'vm')
  const type = str(values.type) ?? 'tdx'
  if (!(VM_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type is one of ${VM_TYPES.join(', ')}, not ${JSON.stringify(type)}`, 'vm')
  const preset = str(values.preset)
  const programFile = str(values.program)
  if (preset !== undefined && programFile !== undefined) throw new UsageError('--preset and --program are exclusive: one program runs on every vCPU', 'vm')
  const body: CreateVmRequest = { type: type as VmType, vcpus: intFlag('vcpus', values.vcpus, 1, 256) ?? 1 }
  const memoryMib = intFlag('memory-mib', values['memory-mib'], 1, 2 ** 32)
  // A preset knows the memory it needs; otherwise a 1 GiB guest.
  if (memoryMib !== undefined) body.memory = { size_mib: memoryMib }
  else if (preset === undefined) body.memory = { size_mib: 1024 }
  const name = str(values.name)
  if (name !== undefined) body.name = name
  if (preset !== undefined) body.preset = preset
  const seed = intFlag('seed', values.seed, 0, Number.MAX_SAFE_INTEGER)
  if (seed !== undefined) body.seed = seed
  const gpaw = intFlag('gpaw', values.gpaw, 48, 52)
  if (gpaw !== undefined) {
    if (gpaw !== 48 && gpaw !== 52) throw new UsageError('--gpaw is 48 or 52', 'vm')
    body.gpaw = gpaw
  }
  if (values.autostart === true) body.autostart = true
  return { globals: globalsOf(values), command: { kind: 'vm-create', body, ...(programFile !== undefined ? { programFile } : {}) } }
}

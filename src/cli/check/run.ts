// One conformance case on one VM type: create the VM, watch it as an observer, do what the
// case does before the controller (poison, an interrupt), start the user's controller with
// FAULTLINE_VM set, wait until the VM ends (or loops, or the time is up), stop the controller,
// read the exit journal, delete the VM, and grade.
import { randomBytes } from 'node:crypto'
import type { FaultlineClient } from '../../client/client.js'
import type { ExitStream } from '../../client/stream.js'
import type { JournalExit, VmType } from '../../client/types.js'
import { startController } from '../child.js'
import type { CheckCase } from './cases.js'
import { grade, KIT_REASON } from './grade.js'
import type { RunOutcome, Verdict } from './grade.js'

export interface RunOptions {
  client: FaultlineClient
  /** An observer stream the runs share. */
  stream: ExitStream
  /** The connection the controller gets (FAULTLINE_URL, FAULTLINE_TOKEN). */
  url: string
  token: string | undefined
  command: readonly string[]
  /** The environment the controller inherits (FAULTLINE_* are set over it). */
  env: NodeJS.ProcessEnv
  /** Per case: from start to the VM's end. */
  timeoutMs: number
  /** How long the controller may take to end by itself once the VM has ended. */
  graceMs: number
  /** Ends the run now, as a time limit would (Ctrl-C). */
  signal?: AbortSignal
}

export interface CaseResult {
  check: CheckCase
  type: VmType
  verdict: Verdict
  ms: number
  /** How the controller process ended, and the tail of its output. */
  controllerEnded: string
  controllerOutput: string
}

/** The states after which the controller has nothing left to decide ('crashed' still has the crash exit). */
const DONE = new Set(['stopped', 'killed', 'deleted'])

// Named at random: several kits may share one server (parallel CI jobs) and names are unique per tenant.
export async function runCase (c: CheckCase, type: VmType, opts: RunOptions): Promise<CaseResult> {
  const { client, stream } = opts
  const started = performance.now()
  const vm = await client.createVm({ ...c.vm, type, vcpus: 1, name: `check-${c.name}-${type}-${randomBytes(6).toString('base64url')}` })
  let state: string = vm.state
  let exits = 0
  let finish!: (why: 'done' | 'loop' | 'timeout' | 'controller') => void
  const finished = new Promise<'done' | 'loop' | 'timeout' | 'controller'>((resolve) => { finish = resolve })
  let firstExit!: () => void
  const sawExit = new Promise<void>((resolve) => { firstExit = resolve })
  const onExit = (e: { vm: string }): void => {
    if (e.vm !== vm.id) return
    exits++
    firstExit()
    if (exits > c.maxExits) finish('loop')
  }
  const onState = (s: { vm: string, state: string }): void => {
    if (s.vm !== vm.id) return
    state = s.state
    if (DONE.has(s.state)) { finish('done'); firstExit() }
  }
  stream.on('exit', onExit)
  stream.on('state', onState)
  const stop = (): void => { finish('timeout'); firstExit() }
  const timer = setTimeout(stop, opts.timeoutMs)
  opts.signal?.addEventListener('abort', stop, { once: true })
  let controller: ReturnType<typeof startController> | undefined
  try {
    await stream.subscribe(vm.id, { role: 'observer' })
    if (c.beforeStart !== undefined) await client.poison(vm.id, c.beforeStart.poison)
    await client.action(vm.id, 'start')
    // The exit waits for a controller: nobody decides it until the controller starts.
    if (c.atFirstExit !== undefined) {
      await sawExit
      await client.injectInterrupt(vm.id, c.atFirstExit.interrupt)
    }
    const env = { ...opts.env, FAULTLINE_URL: opts.url, FAULTLINE_VM: vm.id, ...(opts.token !== undefined ? { FAULTLINE_TOKEN: opts.token } : {}) }
    const proc = startController(opts.command, env)
    controller = proc
    // A controller that ends early gets a moment for its last decisions to land.
    void proc.ended.then(() => setTimeout(() => finish('controller'), 500))
    const why = await finished
    const outcome: Omit<RunOutcome, 'exits' | 'state'> = {}
    if (why === 'loop' || why === 'timeout') outcome.stoppedByKit = why
    if (why === 'controller') outcome.controllerExited = proc.endedAs ?? 'ended'
    if (why !== 'done') await stopVm(client, vm.id)
    const controllerEnded = await proc.stop(why === 'done' ? opts.graceMs : 0)
    const journal: JournalExit[] = []
    for await (const page of client.exitPages(vm.id, { limit: 500 })) journal.push(...page.items)
    const last = await client.getVm(vm.id)
    state = last.state
    let verdict = grade(c, { ...outcome, exits: journal, state })
    // The case is about the RETRY: a pass where the guest never took the interrupt proves nothing.
    if (verdict.pass && c.atFirstExit !== undefined && last.counters.interrupts === 0) {
      verdict = { ...verdict, pass: false, failure: { message: 'the kit\'s interrupt was never taken: the case did not happen as written' } }
    }
    return {
      check: c,
      type,
      verdict,
      ms: performance.now() - started,
      controllerEnded,
      controllerOutput: proc.output()
    }
  } finally {
    clearTimeout(timer)
    opts.signal?.removeEventListener('abort', stop)
    stream.off('exit', onExit)
    stream.off('state', onState)
    if (controller !== undefined) await controller.stop(0)
    await stream.unsubscribe(vm.id).catch(() => {})
    await client.deleteVm(vm.id).catch(() => {})
  }
}

/** Decides what is pending with kill (marked as the kit's), then kills the VM if it still lives. */
async function stopVm (client: FaultlineClient, vm: string): Promise<void> {
  const pending = (await client.exits(vm, { pending: true, limit: 1000 })).items
  for (const e of pending) await client.decide(vm, e.exit, 'kill', { reason: KIT_REASON }).catch(() => {})
  await client.action(vm, 'kill').catch(() => {})
}

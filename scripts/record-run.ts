// Records one run in this process: a VM made by a Control with traces on, started, its exits
// decided by a policy (the built-in always-convert by default) as a controller would, a
// turn of the event loop after each exit, until the VM is no longer running or has made
// `maxExits` exits (then it is stopped). Returns the trace text. The golden traces
// (scripts/traces.ts), their test and the replay benchmark record with it.
import { Control } from '../src/control/index.js'
import type { CreateVmInput, Limits } from '../src/control/index.js'
import type { Principal } from '../src/auth/types.js'
import { Traces } from '../src/traces/service.js'
import { alwaysConvert } from '../src/cli/policies.js'
import type { Policy } from '../src/cli/policies.js'
import type { ExitFields } from '../src/client/types.js'

export const RECORDER: Principal = { tenant: 'traces', role: 'operator', id: 'recorder' }

export interface RecordOptions {
  body: CreateVmInput
  maxExits: number
  policy?: Policy
  limits?: Partial<Limits>
  /** Stop the VM after this many turns of the event loop even if it made no exit. */
  stopAfterTurns?: number
  /** Make the run on this Control and Traces (default: new ones). */
  on?: { control: Control, traces: Traces }
}

export async function recordRun (opts: RecordOptions): Promise<{ trace: string, vm: string, exits: number }> {
  const control = opts.on?.control ?? new Control({ limits: opts.limits ?? {} })
  const traces = opts.on?.traces ?? new Traces(control, { version: 'test' })
  const policy = opts.policy ?? alwaysConvert
  const view = control.createVm(RECORDER, { ...opts.body, autostart: false })
  let exits = 0
  let stop = false
  const done = new Promise<void>((resolve) => {
    control.subscribe({ vm: view.id }, (e) => {
      if (e.type === 'state') {
        const s = (JSON.parse(e.frame) as { state: string }).state
        if (s !== 'running' && s !== 'created') setImmediate(resolve)
        return
      }
      if (e.type !== 'exit') return
      exits++
      const exit = JSON.parse(e.frame) as ExitFields & { exit: number, pending: boolean }
      if (exits >= opts.maxExits) stop = true
      if (!exit.pending && !stop) return
      // As a controller would: a turn later, never inside the event's delivery.
      setImmediate(() => {
        const current = control.getVm(RECORDER, view.id)
        if (stop) { if (current.state === 'running' || current.state === 'paused') control.act(RECORDER, view.id, 'stop'); return }
        // Another vCPU's kill may have closed it meanwhile.
        if (control.pendingExitEvents(RECORDER, view.id).every(p => p.exit !== exit.exit)) return
        const { reason, ...d } = policy(exit)
        try {
          control.apply(RECORDER, view.id, exit.exit, reason === undefined ? d : { ...d, reason }, 'controller')
        } catch (e) {
          // As the CLI's controller does: a conversion that cannot help is refused, and it kills.
          if ((e as { code?: string }).code !== 'INVALID_ACTION' || d.action !== 'convert') throw e
          control.apply(RECORDER, view.id, exit.exit, { action: 'kill', reason: 'conversion refused' }, 'controller')
        }
      })
    })
  })
  control.act(RECORDER, view.id, 'start')
  if (opts.stopAfterTurns !== undefined) {
    for (let k = 0; k < opts.stopAfterTurns; k++) await new Promise(resolve => setImmediate(resolve))
    if (control.getVm(RECORDER, view.id).state === 'running') control.act(RECORDER, view.id, 'stop')
  }
  await done
  const chunks = [...traces.trace(RECORDER, view.id)]
  if (opts.on === undefined) control.close()
  return { trace: chunks.join(''), vm: view.id, exits }
}

// What happens to a VM as a whole: lifecycle actions as the transition table allows them,
// kill and reset (which close or clear its pending exits), and decisions whose outcome is
// one of those. The scheduler learns here which VMs run.
import type { DecidedBy, VmAction, VmState } from '../../schemas/common.js'
import { FaultlineError } from '../errors.js'
import type { DecisionOutcome } from '../kvm/index.js'
import type { CoreDriver } from './core-inputs.js'
import type { DecideInput, Decisions } from './decisions.js'
import type { VmEvents } from './events.js'
import { nextState } from './lifecycle.js'
import type { VmRecord } from './record.js'
import type { Scheduler } from './scheduler.js'

export class VmActions {
  constructor (
    private readonly events: VmEvents,
    private readonly driver: CoreDriver,
    private readonly decisions: Decisions,
    private readonly scheduler: Scheduler
  ) {}

  /** start | pause | resume | stop | kill | reset; INVALID_TRANSITION when the table forbids it. */
  act (rec: VmRecord, action: VmAction, by: DecidedBy): void {
    const to = nextState(rec.state, action)
    if (to === null) throw new FaultlineError('INVALID_TRANSITION', `cannot ${action} VM ${rec.id}: it is ${rec.state}`)
    switch (action) {
      case 'kill': this.kill(rec, by, 'kill'); return
      case 'reset': this.reset(rec, by, 'reset'); return
      default: this.setState(rec, to, action)
    }
  }

  /** Applies a decision and what it means for the VM (kill, reset, or run on). */
  decide (rec: VmRecord, exit: number, d: DecideInput, by: DecidedBy): void {
    this.follow(rec, this.decisions.apply(rec, exit, d, by), by)
  }

  /** What a decision already applied means for the VM. */
  follow (rec: VmRecord, outcome: DecisionOutcome['vm'], by: DecidedBy): void {
    if (outcome === 'kill') this.kill(rec, by, by === 'timeout' ? 'timeout' : 'decision')
    else if (outcome === 'reset') this.reset(rec, by, 'reset')
    else if (rec.state === 'running') this.scheduler.wake()
  }

  setState (rec: VmRecord, state: VmState, reason: string): void {
    this.scheduler.setRunning(rec, state === 'running')
    this.events.setState(rec, state, reason)
  }

  kill (rec: VmRecord, by: DecidedBy, reason: string): void {
    this.decisions.closeAll(rec, by)
    this.setState(rec, 'killed', reason)
  }

  reset (rec: VmRecord, by: DecidedBy, reason: string): void {
    this.decisions.closeAll(rec, by)
    this.driver.reset(rec)
    rec.halted.clear()
    rec.blocked.clear()
    this.setState(rec, rec.state === 'paused' ? 'paused' : 'running', reason)
  }
}

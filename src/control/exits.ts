// An exit from a vCPU into control/: numbered as an event, logged, published, and then
// decided by the VM's policy (a rule inside the server, or a timeout) unless a client
// decides it first. A rule's exit goes out with `pending: false`, so no client answers it.
import { isTerminalSystemEvent } from '../kvm/index.js'
import type { ExitRecord } from '../kvm/index.js'
import { KvmError } from '../kvm/index.js'
import { coreDecision } from './decisions.js'
import type { CoreDriver } from './core-inputs.js'
import type { DecideInput, Decisions } from './decisions.js'
import type { VmEvents } from './events.js'
import { exitFrame } from './frames.js'
import { firstMatch, ruleDecision } from './policy.js'
import type { VmRecord } from './record.js'
import type { VmRegistry } from './registry.js'
import { convertSpan } from './stats.js'
import { systemEventName } from '../../schemas/exit-reading.js'
import type { ControlEvent, ControlLogger, Limits } from './types.js'
import type { VmActions } from './vm-actions.js'

/** The state reason of a VM paused at FAULTLINE_MAX_EXTENTS_PER_VM. */
export const LIMIT_EXTENTS = 'limit:extents'

export class ExitIntake {
  constructor (
    private readonly registry: VmRegistry,
    private readonly events: VmEvents,
    private readonly driver: CoreDriver,
    private readonly decisions: Decisions,
    private readonly actions: VmActions,
    private readonly limits: Limits,
    private readonly logger: ControlLogger | undefined
  ) {}

  onExit (rec: VmRecord, r: ExitRecord): void {
    rec.counters.exits++
    rec.pending.set(r.exit, { vcpu: r.vcpu, timer: undefined, published: performance.now(), span: convertSpan(r) })
    rec.blocked.add(r.vcpu)
    // A matching rule is applied to the core before the exit is encoded, so that its frame
    // can say whether anyone still has to answer it.
    const rule = firstMatch(rec.policy, r)
    let ruled: { input: DecideInput, outcome: ReturnType<VmRecord['vm']['decide']>['vm'] } | undefined
    if (rule !== undefined) {
      const input = ruleDecision(rule)
      try {
        ruled = { input, outcome: this.driver.decide(rec, r.vcpu, r.exit, coreDecision(input)).vm }
      } catch (e) {
        // A rule the core refuses for this exit leaves it pending, as any refused decision.
        if (!(e instanceof KvmError)) throw e
        this.logger?.warn({ vm: rec.id, exit: r.exit, err: e }, 'policy rule refused')
      }
    }
    const seq = this.events.nextSeq(rec)
    // Only the frame is kept (the message object dies young): REST parses it back when asked.
    const event: ControlEvent = { vm: rec.id, tenant: rec.tenant, seq, type: 'exit', exit: r.exit, frame: exitFrame(rec.idJson, seq, r, ruled === undefined) }
    rec.exits.set(r.exit, { event, decision: null })
    // Keeps at most the VM's share of exits (journal-budget.ts); pending exits are never dropped.
    rec.exits.trim(rec.caps.events, rec.caps.bytes)
    this.events.publish(rec, event)

    if (isTerminalSystemEvent(r)) this.actions.setState(rec, 'crashed', systemEventName(r.system_event?.type))
    if (ruled !== undefined) {
      this.decisions.record(rec, r.exit, ruled.input, 'rule')
      this.actions.follow(rec, ruled.outcome, 'rule')
      return
    }
    // No closure per exit when nothing times out (the default).
    if (rec.policy.decision_timeout_ms !== null) this.decisions.armTimeout(rec, r.exit, () => { this.onTimeout(rec, r.exit) })
  }

  /** A recovered VM's pending exits wait again for their decision timeout, in full. */
  rearm (rec: VmRecord): void {
    for (const exit of rec.pending.keys()) this.decisions.armTimeout(rec, exit, () => { this.onTimeout(rec, exit) })
  }

  /** Every vCPU has halted: the VM is stopped (docs/spec/api-v1.md "Guest programs"). */
  onHalted (rec: VmRecord, vcpu: number): void {
    rec.halted.add(vcpu)
    if (rec.halted.size === rec.config.vcpus && rec.state === 'running') this.actions.setState(rec, 'stopped', 'halted')
  }

  /**
   * After a slice: a VM whose memory map has grown past its cap is paused, with a reason
   * naming the cap; the server and the other VMs go on.
   */
  onSliceEnd (rec: VmRecord): void {
    if (rec.vm.extentCount > this.limits.maxExtentsPerVm) {
      this.logger?.warn({ vm: rec.id, extents: rec.vm.extentCount, limit: this.limits.maxExtentsPerVm }, 'VM paused at its extent limit')
      this.actions.setState(rec, 'paused', LIMIT_EXTENTS)
    }
  }

  /** A bug in the core, kept to its VM: the VM crashes, the server goes on. */
  onRunError (rec: VmRecord, vcpu: number, err: unknown): void {
    this.logger?.error({ vm: rec.id, vcpu, err }, 'vCPU run failed')
    this.actions.setState(rec, 'crashed', 'KVM_EXIT_INTERNAL_ERROR')
  }

  private onTimeout (rec: VmRecord, exit: number): void {
    if (!rec.pending.has(exit) || !this.registry.holds(rec)) return
    try {
      this.actions.decide(rec, exit, { action: rec.policy.on_timeout }, 'timeout')
    } catch (e) {
      if (!(e instanceof KvmError && e.code === 'INVALID_ACTION')) {
        this.logger?.error({ vm: rec.id, exit, err: e }, 'timeout decision failed')
      }
      // on_timeout cannot apply to this exit: the VM is killed rather than left waiting.
      if (rec.pending.has(exit)) this.actions.decide(rec, exit, { action: 'kill' }, 'timeout')
    }
  }
}

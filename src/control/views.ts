// What REST answers about VMs and exits, built from control/'s records in the contract's
// shapes (schemas/).
import type { ExitView } from '../../schemas/exit.js'
import type { VmCounters, VmView } from '../../schemas/vm.js'
import { DEFAULT_KVM_ABI } from '../kvm/index.js'
import type { ExitEntry, VmRecord } from './record.js'

export function vmView (rec: VmRecord): VmView {
  const t = rec.vm.counterTotals()
  const c: VmCounters = {
    exits: rec.counters.exits,
    pending: rec.pending.size,
    decisions: rec.counters.decisions,
    by_rule: rec.counters.by_rule,
    by_timeout: rec.counters.by_timeout,
    accesses: t.accesses,
    hypercall_errors: t.hypercall_errors,
    machine_checks: t.machine_checks,
    interrupts: t.interrupts
  }
  const v: VmView = {
    id: rec.id,
    name: rec.name,
    type: rec.config.type,
    state: rec.state,
    state_reason: rec.state_reason,
    vcpus: rec.config.vcpus,
    memslots: rec.config.memslots,
    initial_attributes: rec.config.initial_attributes,
    seed: rec.config.seed,
    kvm_abi: rec.config.kvm_abi ?? DEFAULT_KVM_ABI,
    preset: rec.preset,
    program_length: rec.config.program.length,
    policy: rec.policy,
    counters: c,
    seq: rec.seq,
    created_at: rec.createdIso
  }
  if (rec.config.type === 'tdx') v.gpaw = rec.config.gpaw
  return v
}

/**
 * The exit as the stream sent it, with its decision: the frame parsed back (REST only).
 * `pending` says whether it waits for a decision now.
 */
export function exitView (e: ExitEntry): ExitView {
  const v = JSON.parse(e.event.frame) as ExitView
  v.pending = e.decision === null
  v.decision = e.decision
  return v
}

// A VM's decision policy: rules that decide matching exits without a round trip, and what
// happens to an exit nobody decides in time.
import {
  KVM_EXIT_HYPERCALL, KVM_EXIT_MEMORY_FAULT, KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED,
  KVM_MEMORY_EXIT_FLAG_PRIVATE
} from '../kvm/constants.js'
import type { Decision, ExitRecord } from '../kvm/types.js'
import type { DecisionAction, Policy, PolicyRule } from './types.js'

export function normalizePolicy (p: Partial<Policy> | undefined): Policy {
  return {
    decision_timeout_ms: p?.decision_timeout_ms ?? null,
    on_timeout: p?.on_timeout ?? 'kill',
    rules: (p?.rules ?? []).map(r => ({ ...r }))
  }
}

/** Whether the exit asks for private memory; undefined when the question does not apply. */
function wantsPrivate (e: ExitRecord): boolean | undefined {
  // memory_fault.flags is valid only with ret -1 and exit_reason MEMORY_FAULT (kvm-abi.md 2).
  if (e.exit_reason === KVM_EXIT_MEMORY_FAULT && e.run.ret === -1 && e.memory_fault !== undefined) {
    return (e.memory_fault.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) !== 0
  }
  if (e.exit_reason === KVM_EXIT_HYPERCALL && e.hypercall?.nr === KVM_HC_MAP_GPA_RANGE) {
    return ((e.hypercall.args[2] ?? 0) & KVM_MAP_GPA_RANGE_ENCRYPTED) !== 0
  }
  return undefined
}

export function ruleMatches (r: PolicyRule, e: ExitRecord): boolean {
  if (r.reason !== e.reason) return false
  if (r.errno !== undefined && (e.run.ret !== -1 || e.run.errno !== r.errno)) return false
  if (r.private !== undefined && wantsPrivate(e) !== r.private) return false
  return true
}

/** The first rule matching the exit, or undefined. */
export function firstMatch (p: Policy, e: ExitRecord): PolicyRule | undefined {
  for (const r of p.rules) if (ruleMatches(r, e)) return r
  return undefined
}

export function ruleDecision (r: PolicyRule): Decision {
  return decisionOf(r.action, r.ret, r.data)
}

export function decisionOf (action: DecisionAction, ret?: number, data?: number[]): Decision {
  if (action !== 'resume') return { action }
  const d: Decision = { action }
  if (ret !== undefined) d.ret = ret
  if (data !== undefined) d.data = data
  return d
}

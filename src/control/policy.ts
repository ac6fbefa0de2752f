// A VM's decision policy: rules that decide matching exits without a round trip, and what
// happens to an exit nobody decides in time.
import { wantsPrivate } from '../../schemas/exit-reading.js'
import type { Policy, PolicyInput, PolicyRule } from '../../schemas/vm.js'
import type { ExitRecord } from '../kvm/index.js'
import type { DecideInput } from './decisions.js'

export function normalizePolicy (p: PolicyInput | undefined): Policy {
  return {
    decision_timeout_ms: p?.decision_timeout_ms ?? null,
    on_timeout: p?.on_timeout ?? 'kill',
    rules: (p?.rules ?? []).map(r => ({ ...r }))
  }
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

/** The decision a rule makes: its action, and for resume its ret and data. */
export function ruleDecision (r: PolicyRule): DecideInput {
  if (r.action !== 'resume') return { action: r.action }
  const d: DecideInput = { action: 'resume' }
  if (r.ret !== undefined) d.ret = r.ret
  if (r.data !== undefined) d.data = r.data
  return d
}

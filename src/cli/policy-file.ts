// A policy written as JSON: ordered rules, first match wins, and a fallback for exits no rule
// matches. Validated strictly (unknown fields are errors, as in the API) with the path of the
// offending field, so a typo cannot silently turn a rule off.
//
//   { "rules": [ { "reason": "KVM_EXIT_MEMORY_FAULT", "errno": "EHWPOISON", "action": "kill" },
//                { "reason": "MEMORY_FAULT", "private": true, "action": "convert" },
//                { "reason": "*", "action": "resume" } ],
//     "default": "always-convert" }
// A bare array of rules is accepted too. `reason` is a KVM exit name, with or without the
// KVM_EXIT_ prefix, or "*".
import type { DecisionAction, ExitFields } from '../client/types.js'
import { faultWantsPrivate, mapGpaRangeOf, memoryFaultOf } from '../../schemas/exit-reading.js'
import { BUILTIN_POLICIES, resumeNeutral } from './policies.js'
import type { Policy, PolicyDecision } from './policies.js'

export interface PolicyRule {
  reason: string
  /** Memory faults: EFAULT or EHWPOISON. */
  errno?: 'EFAULT' | 'EHWPOISON'
  /** Memory faults: the access wanted private; MAP_GPA_RANGE: the range goes private. */
  private?: boolean
  /** Hypercalls: hypercall.nr. */
  nr?: number
  action: DecisionAction
  ret?: number
  data?: number[]
}

export interface PolicyFile { rules: PolicyRule[], default?: string }

export class PolicyFileError extends Error {
  constructor (readonly path: string, message: string) {
    super(`${path}: ${message}`)
    this.name = 'PolicyFileError'
  }
}

const ACTIONS: readonly string[] = ['convert', 'resume', 'kill']
const RULE_FIELDS = new Set(['reason', 'errno', 'private', 'nr', 'action', 'ret', 'data'])

const normalReason = (reason: string): string =>
  reason === '*' || reason.startsWith('KVM_EXIT_') ? reason : `KVM_EXIT_${reason}`

function parseRule (raw: unknown, path: string): PolicyRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicyFileError(path, 'a rule is an object')
  const r = raw as Record<string, unknown>
  for (const key of Object.keys(r)) if (!RULE_FIELDS.has(key)) throw new PolicyFileError(`${path}.${key}`, 'unknown field')
  if (typeof r.reason !== 'string' || r.reason === '') throw new PolicyFileError(`${path}.reason`, 'a KVM exit name or "*"')
  if (typeof r.action !== 'string' || !ACTIONS.includes(r.action)) throw new PolicyFileError(`${path}.action`, 'one of convert, resume, kill')
  const rule: PolicyRule = { reason: normalReason(r.reason), action: r.action as DecisionAction }
  if (r.errno !== undefined) {
    if (r.errno !== 'EFAULT' && r.errno !== 'EHWPOISON') throw new PolicyFileError(`${path}.errno`, 'EFAULT or EHWPOISON')
    rule.errno = r.errno
  }
  if (r.private !== undefined) {
    if (typeof r.private !== 'boolean') throw new PolicyFileError(`${path}.private`, 'a boolean')
    rule.private = r.private
  }
  for (const key of ['nr', 'ret'] as const) {
    if (r[key] === undefined) continue
    if (!Number.isSafeInteger(r[key])) throw new PolicyFileError(`${path}.${key}`, 'an integer')
    rule[key] = r[key] as number
  }
  if (r.data !== undefined) {
    if (!Array.isArray(r.data) || !r.data.every((d) => Number.isSafeInteger(d))) throw new PolicyFileError(`${path}.data`, 'an array of integers')
    rule.data = r.data as number[]
  }
  return rule
}

/** Validates parsed JSON as a policy file. */
export function parsePolicyFile (json: unknown): PolicyFile {
  const body = Array.isArray(json) ? { rules: json } : json
  if (typeof body !== 'object' || body === null) throw new PolicyFileError('$', 'an array of rules or {"rules": [...]}')
  const b = body as Record<string, unknown>
  for (const key of Object.keys(b)) if (key !== 'rules' && key !== 'default') throw new PolicyFileError(`$.${key}`, 'unknown field')
  if (!Array.isArray(b.rules)) throw new PolicyFileError('$.rules', 'an array of rules')
  const rules = b.rules.map((r, i) => parseRule(r, `rules[${i}]`))
  if (b.default === undefined) return { rules }
  if (typeof b.default !== 'string' || (!(b.default in BUILTIN_POLICIES) && !ACTIONS.includes(b.default))) {
    throw new PolicyFileError('$.default', `a built-in policy (${Object.keys(BUILTIN_POLICIES).join(', ')}) or an action`)
  }
  return { rules, default: b.default }
}

/** Whether a rule applies to an exit. */
export function ruleMatches (rule: PolicyRule, exit: ExitFields): boolean {
  if (rule.reason !== '*' && rule.reason !== exit.reason) return false
  const fault = memoryFaultOf(exit)
  const map = mapGpaRangeOf(exit)
  if (rule.errno !== undefined && fault?.errno !== rule.errno) return false
  if (rule.nr !== undefined && exit.hypercall?.nr !== rule.nr) return false
  if (rule.private !== undefined) {
    const wantsPrivate = fault !== undefined ? faultWantsPrivate(fault) : map?.private
    if (wantsPrivate !== rule.private) return false
  }
  return true
}

/** The policy a file describes: first matching rule, else the default (always-convert). */
export function compilePolicyFile (file: PolicyFile): Policy {
  const fallbackName = file.default ?? 'always-convert'
  const builtin = BUILTIN_POLICIES[fallbackName]
  const fallback: Policy = builtin ?? ((exit) => fallbackName === 'resume'
    ? resumeNeutral(exit, 'policy file default')
    : { action: fallbackName as DecisionAction, reason: 'policy file default' })
  return (exit) => {
    const index = file.rules.findIndex((rule) => ruleMatches(rule, exit))
    const rule = file.rules[index]
    if (rule === undefined) return fallback(exit)
    const reason = `policy file rule ${index}`
    if (rule.action !== 'resume') return { action: rule.action, reason }
    // A resume rule without ret/data still completes the exit sensibly.
    const decision: PolicyDecision = resumeNeutral(exit, reason)
    if (rule.ret !== undefined) decision.ret = rule.ret
    if (rule.data !== undefined) decision.data = rule.data
    return decision
  }
}

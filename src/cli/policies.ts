// Decision policies: pure functions from an exit to a decision, so that they can be tested
// against every exit type and shared by `faultline decide` and the demo. What each built-in
// does follows docs/spec/kvm-abi.md section 6 ("What a VMM does with each exit").
import {
  KVM_EXIT_HLT, KVM_EXIT_HYPERCALL, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_UNKNOWN, KVM_SYSTEM_EVENT_CRASH, KVM_SYSTEM_EVENT_SEV_TERM,
  KVM_SYSTEM_EVENT_SHUTDOWN, KVM_SYSTEM_EVENT_TDX_FATAL
} from '../client/constants.js'
import type { DecisionAction, ExitFields } from '../client/types.js'
import { faultWantsPrivate, mapGpaRangeOf, memoryFaultOf, readDataLength } from '../../schemas/exit-reading.js'

export interface PolicyDecision {
  action: DecisionAction
  /** hypercall.ret for a resumed hypercall. */
  ret?: number
  /** IN values / MMIO read bytes for a resumed read. */
  data?: number[]
  /** Resume after EHWPOISON with a machine check injected. */
  inject?: 'mce'
  /** A note recorded with the decision. */
  reason?: string
}

export type Policy = (exit: ExitFields) => PolicyDecision
/** A policy that may wait (for a person at a terminal, say). */
export type AsyncPolicy = (exit: ExitFields) => PolicyDecision | Promise<PolicyDecision>

/** System events after which the guest is gone: power off, crash, SNP/TDX fatal errors. */
const TERMINAL_SYSTEM_EVENTS = new Set([
  KVM_SYSTEM_EVENT_SHUTDOWN, KVM_SYSTEM_EVENT_CRASH, KVM_SYSTEM_EVENT_SEV_TERM, KVM_SYSTEM_EVENT_TDX_FATAL
])

/** Whether the exit ends the guest: triple fault, internal error, a terminal system event. */
export function isTerminal (exit: ExitFields): boolean {
  switch (exit.exit_reason) {
    case KVM_EXIT_SHUTDOWN:
    case KVM_EXIT_INTERNAL_ERROR:
    case KVM_EXIT_UNKNOWN:
      return true
    case KVM_EXIT_SYSTEM_EVENT:
      return exit.system_event !== undefined && TERMINAL_SYSTEM_EVENTS.has(exit.system_event.type)
    default:
      return false
  }
}

/**
 * Run again with nothing changed: a hypercall reports success (ret 0), an IN or MMIO read
 * gets zeros (QEMU's unassigned I/O reads are the VMM's choice; zero is the neutral one).
 */
export function resumeNeutral (exit: ExitFields, reason?: string): PolicyDecision {
  const decision: PolicyDecision = { action: 'resume' }
  if (exit.exit_reason === KVM_EXIT_HYPERCALL) decision.ret = 0
  const n = readDataLength(exit)
  if (n !== undefined) decision.data = new Array<number>(n).fill(0)
  if (reason !== undefined) decision.reason = reason
  return decision
}

/**
 * What QEMU does: convert every conversion request, explicit (MAP_GPA_RANGE) or implicit
 * (a memory fault with EFAULT); after EHWPOISON stop a private page's VM (conversion cannot
 * help) and inject a machine check for a shared one (resume with inject "mce": a plain
 * resume would fault again, as KVM_RUN does); kill on terminal
 * events; resume everything else with ret 0 / zero data.
 */
export const alwaysConvert: Policy = (exit) => {
  const fault = memoryFaultOf(exit)
  if (fault !== undefined) {
    if (fault.errno === 'EFAULT') return { action: 'convert', reason: 'implicit conversion' }
    return faultWantsPrivate(fault)
      ? { action: 'kill', reason: 'hwpoisoned private page' }
      : { action: 'resume', inject: 'mce', reason: 'machine check on a hwpoisoned shared page' }
  }
  if (mapGpaRangeOf(exit) !== undefined) return { action: 'convert', reason: 'explicit conversion' }
  if (isTerminal(exit)) return { action: 'kill', reason: 'the guest is gone' }
  if (exit.exit_reason === KVM_EXIT_HLT) return resumeNeutral(exit, 'interrupt due')
  return resumeNeutral(exit)
}

/**
 * Trust only explicit conversions: a guest that wants a page converted must ask with
 * MAP_GPA_RANGE; a memory fault (an implicit request KVM cannot tell from a guest bug) kills
 * the VM. Everything else as always-convert.
 */
export const convertExplicitKillImplicit: Policy = (exit) => {
  if (memoryFaultOf(exit) !== undefined) return { action: 'kill', reason: 'implicit conversion refused' }
  return alwaysConvert(exit)
}

export const BUILTIN_POLICIES: Readonly<Record<string, Policy>> = {
  'always-convert': alwaysConvert,
  'convert-explicit-kill-implicit': convertExplicitKillImplicit
}

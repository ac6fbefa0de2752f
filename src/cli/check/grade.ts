// Grading one run of a conformance case: the exits the VM made (its journal, with the
// decisions), its final state, and what the kit had to do, against the case's steps.
// Pure, so every verdict is unit-tested without a server or a process.
import type { JournalExit, RecordedDecision } from '../../client/types.js'
import { mapGpaRangeOf, memoryFaultOf, wantsPrivate } from '../../../schemas/exit-reading.js'
import { describeExit } from '../format.js'
import type { AcceptedDecision, CaseStep, CheckCase, ExitMatch } from './cases.js'

/** How a run ended, as the kit saw it. */
export interface RunOutcome {
  /** The VM's exits, oldest first, each with its decision (or null). */
  exits: JournalExit[]
  /** The VM's last state. */
  state: string
  /** Why the kit stepped in, if it did: it killed the VM after a timeout or a loop. */
  stoppedByKit?: 'timeout' | 'loop'
  /** The controller process ended before the VM did (its exit code or signal). */
  controllerExited?: string
}

export interface Verdict {
  pass: boolean
  /** The controller's decisions, in order ("convert, kill"). */
  did: string
  /** What a correct VMM does, step by step. */
  correct: string
  /** For a fail: the exit where it went wrong, and why the right answer is right. */
  failure?: { exit?: string, message: string, why?: string }
}

export function exitMatches (m: ExitMatch, e: JournalExit): boolean {
  if (e.reason !== m.reason) return false
  const fault = memoryFaultOf(e)
  if (m.errno !== undefined && fault?.errno !== m.errno) return false
  if (m.private !== undefined && wantsPrivate(e) !== m.private) return false
  if (m.gpa !== undefined && (fault?.gpa ?? mapGpaRangeOf(e)?.gpa) !== m.gpa) return false
  if (m.npages !== undefined && mapGpaRangeOf(e)?.npages !== m.npages) return false
  if (m.port !== undefined && e.io?.port !== m.port) return false
  if (m.systemEvent !== undefined && e.system_event?.type !== m.systemEvent) return false
  if (m.staleFault === true && (fault !== undefined || e.memory_fault === undefined)) return false
  return true
}

export function describeDecision (d: Pick<RecordedDecision, 'action' | 'ret' | 'inject'>): string {
  if (d.action !== 'resume') return d.action
  const extras = [d.ret !== undefined && d.ret !== 0 ? `ret ${d.ret}` : '', d.inject !== undefined ? `inject ${d.inject}` : ''].filter((s) => s !== '')
  return extras.length === 0 ? 'resume' : `resume (${extras.join(', ')})`
}

function describeAccepted (a: AcceptedDecision): string {
  if (a.action !== 'resume') return a.action
  if (a.inject !== undefined) return `resume (inject ${a.inject})`
  if (a.ret === 'error') return 'resume (ret EINVAL)'
  return 'resume'
}

export function decisionAccepted (a: AcceptedDecision, d: RecordedDecision): boolean {
  if (a.action !== d.action) return false
  if (a.action !== 'resume') return true
  if ((a.inject ?? null) !== (d.inject ?? null)) return false
  const ret = d.ret ?? 0
  if (a.ret === 'error') return ret !== 0
  return ret === 0
}

const stepText = (s: CaseStep): string => s.accept.map(describeAccepted).join(' or ')

/** What a correct VMM does over the whole case: "convert, kill or resume (inject mce)". */
export const correctText = (c: CheckCase): string => c.steps.map(stepText).join(', ')

/** The note on the decisions the kit makes itself when it stops a VM, so that none counts as the controller's. */
export const KIT_REASON = 'faultline check stopped the VM'

const byController = (d: RecordedDecision): boolean => (d.by === 'controller' || d.by === 'rest') && d.reason !== KIT_REASON

function noDecision (outcome: RunOutcome): string {
  if (outcome.controllerExited !== undefined) return `the controller exited (${outcome.controllerExited}) without deciding it`
  // The server refuses what cannot apply (INVALID_ACTION) and the exit stays pending.
  if (outcome.stoppedByKit === 'timeout') return 'no decision the server accepted before the time limit (a refused one, INVALID_ACTION, leaves the exit pending)'
  return 'no decision'
}

export function grade (c: CheckCase, outcome: RunOutcome): Verdict {
  const own = outcome.exits.filter((e) => e.decision !== null && byController(e.decision))
  const did = own.length === 0 ? '(none)' : own.map((e) => describeDecision(e.decision as RecordedDecision)).join(', ')
  const verdict = (failure?: Verdict['failure']): Verdict =>
    ({ pass: failure === undefined, did, correct: correctText(c), ...(failure !== undefined ? { failure } : {}) })

  for (const [i, step] of c.steps.entries()) {
    const e = outcome.exits[i]
    if (e === undefined) {
      return verdict({ message: `the VM ended (${outcome.state}) before exit ${i + 1} of ${c.steps.length}`, why: step.why })
    }
    const where = `#${e.exit} ${describeExit({ ...e, vm: '', seq: e.seq })}`
    if (!exitMatches(step.exit, e)) {
      return verdict({ exit: where, message: 'the guest took another path: an earlier decision was not what the case expects', why: step.why })
    }
    const d = e.decision
    if (d === null || !byController(d)) {
      return verdict({ exit: where, message: d === null || d.reason === KIT_REASON ? noDecision(outcome) : `decided by ${d.by}, not by the controller`, why: step.why })
    }
    const accepted = step.accept.find((a) => decisionAccepted(a, d))
    if (accepted === undefined) {
      const loop = outcome.stoppedByKit === 'loop' ? ` (the exit came back until the kit stopped the VM after ${outcome.exits.length} exits)` : ''
      return verdict({ exit: where, message: `did ${describeDecision(d)}${loop}; a correct VMM does ${stepText(step)}`, why: step.why })
    }
    // A kill ends the case here: nothing more should follow.
    if (accepted.action === 'kill') {
      return outcome.state === 'killed' ? verdict() : verdict({ exit: where, message: `the VM is ${outcome.state} after the kill` })
    }
  }
  const extra = outcome.exits[c.steps.length]
  if (extra !== undefined) {
    return verdict({ exit: `#${extra.exit} ${describeExit({ ...extra, vm: '', seq: extra.seq })}`, message: 'an exit the case does not expect: the guest did not run on as it should' })
  }
  if (outcome.state !== 'stopped') return verdict({ message: `the VM ended ${outcome.state}, not stopped (every vCPU halted)` })
  return verdict()
}

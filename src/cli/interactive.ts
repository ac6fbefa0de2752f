// The interactive policy: a person at the terminal decides each exit (c/r/k), with the
// always-convert answer offered as the default. `ask` is injected, so the policy is tested
// without a terminal.
import type { ExitFields } from '../client/types.js'
import { mapGpaRangeOf, memoryFaultOf } from '../../schemas/exit-reading.js'
import { describeExit } from './format.js'
import { alwaysConvert, resumeNeutral } from './policies.js'
import type { AsyncPolicy, Policy, PolicyDecision } from './policies.js'

export type Ask = (question: string) => Promise<string>

/** Asking again after this many unusable answers would only annoy: take the default. */
const MAX_ASKS = 3

/** Whether convert can apply at all (the server refuses it elsewhere with INVALID_ACTION). */
export const convertible = (exit: ExitFields): boolean =>
  memoryFaultOf(exit)?.errno === 'EFAULT' || mapGpaRangeOf(exit) !== undefined

export function parseAnswer (answer: string): 'convert' | 'resume' | 'kill' | 'default' | undefined {
  const a = answer.trim().toLowerCase()
  if (a === '') return 'default'
  if (a === 'c' || a === 'convert') return 'convert'
  if (a === 'r' || a === 'resume') return 'resume'
  if (a === 'k' || a === 'kill') return 'kill'
  return undefined
}

export function interactivePolicy (ask: Ask, suggest: Policy = alwaysConvert): AsyncPolicy {
  return async (exit): Promise<PolicyDecision> => {
    const suggested = suggest(exit)
    const choices = convertible(exit) ? '[c]onvert [r]esume [k]ill' : '[r]esume [k]ill'
    let note = ''
    for (let i = 0; i < MAX_ASKS; i++) {
      const answer = parseAnswer(await ask(`${note}vm ${exit.vm} vcpu ${exit.vcpu} exit #${exit.exit}: ${describeExit(exit)}\n  ${choices} (enter: ${suggested.action})? `))
      if (answer === 'default') return suggested
      if (answer === 'kill') return { action: 'kill', reason: 'interactive' }
      if (answer === 'resume') return resumeNeutral(exit, 'interactive')
      if (answer === 'convert' && convertible(exit)) return { action: 'convert', reason: 'interactive' }
      note = answer === 'convert' ? 'conversion cannot help this exit. ' : 'answer c, r or k. '
    }
    return suggested
  }
}

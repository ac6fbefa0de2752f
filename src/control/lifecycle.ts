// The VM lifecycle as a table, kept apart from the code that acts on it (Firecracker's
// habit: one place says which actions each state allows).
import type { VmAction, VmState } from '../../schemas/common.js'

/**
 * For each action, the states it may start from. The state it leads to is fixed, except
 * reset: a reset VM boots again and runs, unless it was paused, when it stays paused.
 */
export const TRANSITIONS: Readonly<Record<VmAction, readonly VmState[]>> = {
  start: ['created'],
  pause: ['running'],
  resume: ['paused'],
  stop: ['running', 'paused'],
  kill: ['created', 'running', 'paused', 'stopped', 'crashed'],
  reset: ['running', 'paused', 'stopped', 'crashed']
}

/** The state `action` leads to from `from`, or null when the table forbids it. */
export function nextState (from: VmState, action: VmAction): VmState | null {
  if (!TRANSITIONS[action].includes(from)) return null
  switch (action) {
    case 'start': return 'running'
    case 'pause': return 'paused'
    case 'resume': return 'running'
    case 'stop': return 'stopped'
    case 'kill': return 'killed'
    case 'reset': return from === 'paused' ? 'paused' : 'running'
  }
}

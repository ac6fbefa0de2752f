// The VM lifecycle: the contract's table (schemas/lifecycle.ts) says which actions each
// state allows; this says where each leads. Kept apart from the code that acts on it
// (Firecracker's habit).
import type { VmAction, VmState } from '../../schemas/common.js'
import { TRANSITIONS } from '../../schemas/lifecycle.js'

export { TRANSITIONS }

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

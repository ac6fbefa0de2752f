// The VM lifecycle as the contract states it: for each action, the states it may start
// from (anything else is 409 INVALID_TRANSITION). Clients read it to offer only what will
// be accepted; control/ enforces it.
import type { VmAction, VmState } from './common.js'

export const TRANSITIONS: Readonly<Record<VmAction, readonly VmState[]>> = {
  start: ['created'],
  pause: ['running'],
  resume: ['paused'],
  stop: ['running', 'paused'],
  kill: ['created', 'running', 'paused', 'stopped', 'crashed'],
  reset: ['running', 'paused', 'stopped', 'crashed']
}

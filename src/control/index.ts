// control/: the single owner of every VM. Routes and the stream turn requests into calls
// on one Control; nothing else touches a Vm. This file is the seam other modules import.
export { Control } from './control.js'
export { TRANSITIONS, nextState } from './lifecycle.js'
export * from './types.js'

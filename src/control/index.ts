// control/: the single owner of every VM. Routes and the stream turn requests into calls
// on one Control; nothing else touches a Vm. This file is the seam other modules import.
export { Control } from './control.js'
export { TRANSITIONS, nextState } from './lifecycle.js'
export * from './types.js'
export type { VmRecorder } from './events.js'
export type { CoreInput } from './core-inputs.js'
export { applyInput } from './core-inputs.js'

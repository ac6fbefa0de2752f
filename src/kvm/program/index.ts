// The guest program module: format, validation, seeded randomness and built-in presets.
export type * from './types.js'
export { validateProgram, PROGRAM_DEFAULTS, PROGRAM_LIMITS } from './validate.js'
export type { ProgramContext } from './validate.js'
export { Rng, vcpuSeed } from './rng.js'
export { PRESETS, getPreset } from './presets/index.js'
export type { Preset } from './presets/index.js'

// What a built-in guest program is: a program, the VM types it is written for and the
// memory it expects.
import type { MemslotConfig, VmType } from '../../types.js'
import type { Program } from '../types.js'

export interface Preset {
  name: string
  description: string
  /** The VM types it is written for. */
  types: VmType[]
  /** Suggested guest size: one memslot at gpa 0, with guest_memfd on confidential types, unless `memslots` is given. */
  memory_mib: number
  /** The exits it produces, for docs and GET /v1/presets. */
  exits: string
  /** A memory layout the preset needs (it totals memory_mib). */
  memslots?: MemslotConfig[]
  program: Program
}

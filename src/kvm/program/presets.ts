// The built-in guest programs (GET /v1/presets, "preset" in the VM body). Each is written for
// the VM types it names, at its suggested memory size, for 1 to 256 vCPUs; docs/presets.md
// lists the exits each one produces.
import type { MemslotConfig, VmType } from '../types.js'
import type { Program } from './types.js'
import { SNP_BOOT, TDX_BOOT } from './presets/boot.js'
import { BUGGY_GUEST, HWPOISON, IMPLICIT_CONVERSIONS, NO_GUEST_MEMFD_LOOP } from './presets/faults.js'
import { CONVERSION_STORM, IO_HEAVY } from './presets/load.js'

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

export const PRESETS: readonly Preset[] = Object.freeze([
  TDX_BOOT, SNP_BOOT, IMPLICIT_CONVERSIONS, BUGGY_GUEST, HWPOISON, NO_GUEST_MEMFD_LOOP,
  CONVERSION_STORM, IO_HEAVY
])

const BY_NAME = new Map(PRESETS.map(p => [p.name, p]))

export function getPreset (name: string): Preset | undefined {
  return BY_NAME.get(name)
}

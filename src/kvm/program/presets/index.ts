// The built-in guest programs (GET /v1/presets, "preset" in the VM body). Each is written for
// the VM types it names, at its suggested memory size, for 1 to 256 vCPUs; docs/presets.md
// lists the exits each one produces.
import type { Preset } from './preset.js'
import { SNP_BOOT, TDX_BOOT } from './boot.js'
import { BUGGY_GUEST, HWPOISON, IMPLICIT_CONVERSIONS, NO_GUEST_MEMFD_LOOP } from './faults.js'
import { CONVERSION_STORM, IO_HEAVY } from './load.js'

export type { Preset }

export const PRESETS: readonly Preset[] = Object.freeze([
  TDX_BOOT, SNP_BOOT, IMPLICIT_CONVERSIONS, BUGGY_GUEST, HWPOISON, NO_GUEST_MEMFD_LOOP,
  CONVERSION_STORM, IO_HEAVY
])

const BY_NAME = new Map(PRESETS.map(p => [p.name, p]))

export function getPreset (name: string): Preset | undefined {
  return BY_NAME.get(name)
}

// The guest's memory map as one bar of characters: each cell covers an equal share of the
// range and shows whether that share is all private (█), all shared (░) or both (▒). Works
// from attribute extents, so a 1 TiB guest costs as much to draw as a 1 MiB one.
import { KVM_MEMORY_ATTRIBUTE_PRIVATE } from '../client/constants.js'
import type { AttributeExtent } from '../client/types.js'
import { formatBytes, hex } from './format.js'
import type { Paint } from './format.js'

export const PRIVATE_CELL = '█'
export const SHARED_CELL = '░'
export const MIXED_CELL = '▒'

export interface Range { gpa: number, size: number }

/** Private bytes in [start, end) according to sorted extents (gaps count as shared). */
function privateBytes (extents: readonly AttributeExtent[], start: number, end: number): number {
  let total = 0
  for (const e of extents) {
    if (e.gpa >= end) break
    const lo = Math.max(start, e.gpa)
    const hi = Math.min(end, e.gpa + e.size)
    if (hi > lo && (e.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0) total += hi - lo
  }
  return total
}

/** The bar over `range`, `width` cells wide. */
export function memoryBar (extents: readonly AttributeExtent[], range: Range, width = 64): string {
  const sorted = [...extents].sort((a, b) => a.gpa - b.gpa)
  let bar = ''
  for (let i = 0; i < width; i++) {
    const start = range.gpa + Math.floor((range.size * i) / width)
    const end = range.gpa + Math.floor((range.size * (i + 1)) / width)
    if (end <= start) { bar += SHARED_CELL; continue }
    const priv = privateBytes(sorted, start, end)
    bar += priv === end - start ? PRIVATE_CELL : priv === 0 ? SHARED_CELL : MIXED_CELL
  }
  return bar
}

/** Private and shared byte totals over a range. */
export function memoryTotals (extents: readonly AttributeExtent[], range: Range): { private: number, shared: number, extents: number } {
  const sorted = [...extents].sort((a, b) => a.gpa - b.gpa)
  const priv = privateBytes(sorted, range.gpa, range.gpa + range.size)
  const inside = sorted.filter((e) => e.gpa < range.gpa + range.size && e.gpa + e.size > range.gpa).length
  return { private: priv, shared: range.size - priv, extents: inside }
}

/** The bar with its axis and a legend, as the demo and `vm memory` print it. */
export function formatMemoryMap (extents: readonly AttributeExtent[], range: Range, paint: Paint, width = 64): string {
  const bar = memoryBar(extents, range, width)
  const coloured = [...bar].map((c) => c === PRIVATE_CELL ? paint(c, 'magenta') : c === MIXED_CELL ? paint(c, 'yellow') : paint(c, 'cyan')).join('')
  const totals = memoryTotals(extents, range)
  const start = hex(range.gpa)
  const end = hex(range.gpa + range.size)
  return [
    `  ${coloured}`,
    `  ${start} ${end.padStart(Math.max(end.length, width - start.length - 1))}`,
    `  ${paint(PRIVATE_CELL, 'magenta')} private ${formatBytes(totals.private)}   ` +
      `${paint(SHARED_CELL, 'cyan')} shared ${formatBytes(totals.shared)}   ` +
      `${paint(MIXED_CELL, 'yellow')} both   (${totals.extents} extent${totals.extents === 1 ? '' : 's'})`
  ].join('\n')
}

/** The span of a VM's memslots: what the bar should cover. */
export function slotSpan (slots: ReadonlyArray<{ gpa: number, size: number }>): Range | undefined {
  if (slots.length === 0) return undefined
  const start = Math.min(...slots.map((s) => s.gpa))
  const end = Math.max(...slots.map((s) => s.gpa + s.size))
  return { gpa: start, size: end - start }
}

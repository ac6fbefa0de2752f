// The memory map's numbers, apart from any drawing: a guest's extents indexed so that one
// pixel column's private bytes, memslot bytes and poison cost two binary searches, whatever
// the number of extents. A 1 TiB guest with a million extents is then as cheap to draw as a
// small one: the work is per column, never per extent. No DOM, so tests run it in Node.
import { KVM_MEMORY_ATTRIBUTE_PRIVATE } from '../../src/client/constants.js'
import type { AttributeExtent, BackingExtent, Memslot } from '../../src/client/types.js'

export interface Range { gpa: number, size: number }

/** Sorted, non-overlapping ranges; answers "how many bytes of [a, b) they cover" in O(log n). */
export class RangeIndex {
  readonly count: number
  private readonly starts: Float64Array
  private readonly ends: Float64Array
  /** Bytes covered before range i. */
  private readonly before: Float64Array

  constructor (ranges: readonly Range[]) {
    this.count = ranges.length
    this.starts = new Float64Array(ranges.length)
    this.ends = new Float64Array(ranges.length)
    this.before = new Float64Array(ranges.length)
    let sum = 0
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i] as Range
      this.starts[i] = r.gpa
      this.ends[i] = r.gpa + r.size
      this.before[i] = sum
      sum += r.size
    }
  }

  /** Covered bytes below x. */
  private coveredBelow (x: number): number {
    // The last range starting at or below x.
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if ((this.starts[mid] as number) <= x) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    if (found < 0) return 0
    const start = this.starts[found] as number
    return (this.before[found] as number) + Math.min(x, this.ends[found] as number) - start
  }

  /** Bytes of [a, b) inside the ranges. */
  covered (a: number, b: number): number {
    return b <= a ? 0 : this.coveredBelow(b) - this.coveredBelow(a)
  }
}

export const isPrivate = (e: AttributeExtent): boolean => (e.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0

/**
 * The attribute extents over [lo, hi) with every gap filled as attributes 0 (shared) and
 * equal neighbours merged, so that a list of them reads as the whole guest.
 */
export function fillExtents (extents: readonly AttributeExtent[], lo: number, hi: number): AttributeExtent[] {
  const out: AttributeExtent[] = []
  const push = (gpa: number, end: number, attributes: number): void => {
    if (end <= gpa) return
    const last = out[out.length - 1]
    if (last !== undefined && last.attributes === attributes && last.gpa + last.size === gpa) last.size = end - last.gpa
    else out.push({ gpa, size: end - gpa, attributes })
  }
  let at = lo
  for (const e of extents) {
    const start = Math.max(e.gpa, lo)
    const end = Math.min(e.gpa + e.size, hi)
    if (end <= start) continue
    push(at, start, 0)
    push(start, end, e.attributes)
    at = end
  }
  push(at, hi, 0)
  return out
}

/** One guest's map: its bounds, extents and the indexes the drawing asks. */
export class GuestMap {
  readonly lo: number
  readonly hi: number
  readonly extents: AttributeExtent[]
  readonly memslots: readonly Memslot[]
  readonly poisoned: Range[]
  private readonly privateIndex: RangeIndex
  private readonly gmemIndex: RangeIndex
  private readonly plainIndex: RangeIndex
  private readonly poisonIndex: RangeIndex

  constructor (memslots: readonly Memslot[], attributes: readonly AttributeExtent[], backing: readonly BackingExtent[] = []) {
    const slots = [...memslots].sort((a, b) => a.gpa - b.gpa)
    this.memslots = slots
    this.lo = slots.length > 0 ? Math.min(...slots.map(s => s.gpa)) : 0
    this.hi = slots.length > 0 ? Math.max(...slots.map(s => s.gpa + s.size)) : 0
    this.extents = fillExtents(attributes, this.lo, this.hi)
    this.poisoned = backing.filter(b => b.poisoned).map(b => ({ gpa: b.gpa, size: b.size }))
    this.privateIndex = new RangeIndex(this.extents.filter(isPrivate))
    this.gmemIndex = new RangeIndex(slots.filter(s => s.guest_memfd))
    this.plainIndex = new RangeIndex(slots.filter(s => !s.guest_memfd))
    this.poisonIndex = new RangeIndex(this.poisoned)
  }

  /** The index of the first extent ending above gpa (binary search). */
  firstExtentAt (gpa: number): number {
    let lo = 0
    let hi = this.extents.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const e = this.extents[mid] as AttributeExtent
      if (e.gpa + e.size <= gpa) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The extents that meet [start, end), at most `limit` of them, and how many meet it in all. */
  extentsIn (start: number, end: number, limit: number): { items: AttributeExtent[], total: number } {
    const first = this.firstExtentAt(start)
    const last = this.firstExtentAt(end) // the extent holding `end`, or past the last
    const stop = last < this.extents.length && (this.extents[last] as AttributeExtent).gpa < end ? last + 1 : last
    return { items: this.extents.slice(first, Math.min(stop, first + limit)), total: stop - first }
  }

  /** The extent holding gpa, if the guest has one there. */
  extentAt (gpa: number): AttributeExtent | undefined {
    const e = this.extents[this.firstExtentAt(gpa)]
    return e !== undefined && e.gpa <= gpa ? e : undefined
  }

  /** Per pixel column of the view [start, end): what fraction is private, in a guest_memfd slot, in a plain slot; poisoned at all. */
  columns (start: number, end: number, count: number): Columns {
    const out: Columns = {
      private: new Float32Array(count),
      gmem: new Float32Array(count),
      plain: new Float32Array(count),
      poisoned: new Uint8Array(count)
    }
    const width = (end - start) / count
    for (let i = 0; i < count; i++) {
      const a = start + i * width
      const b = i === count - 1 ? end : a + width
      out.private[i] = this.privateIndex.covered(a, b) / (b - a)
      out.gmem[i] = this.gmemIndex.covered(a, b) / (b - a)
      out.plain[i] = this.plainIndex.covered(a, b) / (b - a)
      out.poisoned[i] = this.poisonIndex.covered(a, b) > 0 ? 1 : 0
    }
    return out
  }
}

export interface Columns {
  private: Float32Array
  gmem: Float32Array
  plain: Float32Array
  poisoned: Uint8Array
}

/** A view of [lo, hi): zoom about a point and pan, kept inside the guest and at least minSize wide. */
export interface View { start: number, end: number }

export const MIN_VIEW = 16 * 4096

export function clampView (v: View, lo: number, hi: number): View {
  const span = Math.min(Math.max(v.end - v.start, MIN_VIEW), hi - lo)
  let start = Math.max(lo, Math.min(v.start, hi - span))
  start = Math.floor(start)
  return { start, end: start + span }
}

/** Zooms by factor (< 1 zooms in) keeping the address at `at` (0..1 across the view) in place. */
export function zoomView (v: View, factor: number, at: number, lo: number, hi: number): View {
  const span = v.end - v.start
  const pivot = v.start + span * at
  const next = span * factor
  return clampView({ start: pivot - next * at, end: pivot - next * at + next }, lo, hi)
}

/** Pans by a fraction of the view (negative = towards lower addresses). */
export function panView (v: View, fraction: number, lo: number, hi: number): View {
  const shift = (v.end - v.start) * fraction
  return clampView({ start: v.start + shift, end: v.end + shift }, lo, hi)
}

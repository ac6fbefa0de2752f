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
  /** Bytes covered before range i. */
  private readonly before: Float64Array

  /** starts and ends hold `count` ranges (the arrays may be longer). */
  constructor (private readonly starts: Float64Array, private readonly ends: Float64Array, count = starts.length) {
    this.count = count
    this.before = new Float64Array(count)
    let sum = 0
    for (let i = 0; i < count; i++) {
      this.before[i] = sum
      sum += (ends[i] as number) - (starts[i] as number)
    }
  }

  static of (ranges: readonly Range[]): RangeIndex {
    return new RangeIndex(Float64Array.from(ranges, r => r.gpa), Float64Array.from(ranges, r => r.gpa + r.size))
  }

  /** Covered bytes below x. */
  private coveredBelow (x: number): number {
    const found = lastAtOrBelow(this.starts, this.count, x)
    if (found < 0) return 0
    return (this.before[found] as number) + Math.min(x, this.ends[found] as number) - (this.starts[found] as number)
  }

  /** Bytes of [a, b) inside the ranges. */
  covered (a: number, b: number): number {
    return b <= a ? 0 : this.coveredBelow(b) - this.coveredBelow(a)
  }
}

/** The last index i < count with starts[i] <= x, or -1. */
function lastAtOrBelow (starts: Float64Array, count: number, x: number): number {
  let lo = 0
  let hi = count - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if ((starts[mid] as number) <= x) { found = mid; lo = mid + 1 } else hi = mid - 1
  }
  return found
}

export const isPrivate = (e: AttributeExtent): boolean => (e.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0

/** Extents held in typed arrays: a million of them cost three arrays, not a million objects. */
export interface ExtentArrays { starts: Float64Array, ends: Float64Array, attrs: Float64Array, count: number }

/**
 * The attribute extents over [lo, hi) with every gap filled as attributes 0 (shared) and
 * equal neighbours merged, so that they read as the whole guest.
 */
export function fillArrays (extents: readonly AttributeExtent[], lo: number, hi: number): ExtentArrays {
  const cap = extents.length * 2 + 1
  const out: ExtentArrays = { starts: new Float64Array(cap), ends: new Float64Array(cap), attrs: new Float64Array(cap), count: 0 }
  const push = (gpa: number, end: number, attributes: number): void => {
    if (end <= gpa) return
    const last = out.count - 1
    if (last >= 0 && out.attrs[last] === attributes && out.ends[last] === gpa) { out.ends[last] = end; return }
    out.starts[out.count] = gpa
    out.ends[out.count] = end
    out.attrs[out.count] = attributes
    out.count++
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

export function fillExtents (extents: readonly AttributeExtent[], lo: number, hi: number): AttributeExtent[] {
  const a = fillArrays(extents, lo, hi)
  return Array.from({ length: a.count }, (_, i) => extentOf(a, i))
}

const extentOf = (a: ExtentArrays, i: number): AttributeExtent =>
  ({ gpa: a.starts[i] as number, size: (a.ends[i] as number) - (a.starts[i] as number), attributes: a.attrs[i] as number })

/** One guest's map: its bounds, extents and the indexes the drawing asks. */
export class GuestMap {
  readonly lo: number
  readonly hi: number
  readonly memslots: readonly Memslot[]
  readonly poisoned: Range[]
  private readonly extents: ExtentArrays
  private readonly privateIndex: RangeIndex
  private readonly gmemIndex: RangeIndex
  private readonly plainIndex: RangeIndex
  private readonly poisonIndex: RangeIndex

  constructor (memslots: readonly Memslot[], attributes: readonly AttributeExtent[], backing: readonly BackingExtent[] = []) {
    const slots = [...memslots].sort((a, b) => a.gpa - b.gpa)
    this.memslots = slots
    this.lo = slots.length > 0 ? Math.min(...slots.map(s => s.gpa)) : 0
    this.hi = slots.length > 0 ? Math.max(...slots.map(s => s.gpa + s.size)) : 0
    this.extents = fillArrays(attributes, this.lo, this.hi)
    this.poisoned = backing.filter(b => b.poisoned).map(b => ({ gpa: b.gpa, size: b.size }))
    this.privateIndex = this.privateRanges()
    this.gmemIndex = RangeIndex.of(slots.filter(s => s.guest_memfd))
    this.plainIndex = RangeIndex.of(slots.filter(s => !s.guest_memfd))
    this.poisonIndex = RangeIndex.of(this.poisoned)
  }

  private privateRanges (): RangeIndex {
    const e = this.extents
    const starts = new Float64Array(e.count)
    const ends = new Float64Array(e.count)
    let n = 0
    for (let i = 0; i < e.count; i++) {
      if (((e.attrs[i] as number) & KVM_MEMORY_ATTRIBUTE_PRIVATE) === 0) continue
      starts[n] = e.starts[i] as number
      ends[n] = e.ends[i] as number
      n++
    }
    return new RangeIndex(starts, ends, n)
  }

  /** How many extents the guest has, gaps filled. */
  get extentCount (): number { return this.extents.count }

  /** The index of the first extent ending above gpa (binary search). */
  private firstExtentAt (gpa: number): number {
    let lo = 0
    let hi = this.extents.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.extents.ends[mid] as number) <= gpa) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The extents that meet [start, end), at most `limit` of them, and how many meet it in all. */
  extentsIn (start: number, end: number, limit: number): { items: AttributeExtent[], total: number } {
    const first = this.firstExtentAt(start)
    const last = this.firstExtentAt(end) // the extent holding `end`, or past the last
    const stop = last < this.extents.count && (this.extents.starts[last] as number) < end ? last + 1 : last
    const items: AttributeExtent[] = []
    for (let i = first; i < Math.min(stop, first + limit); i++) items.push(extentOf(this.extents, i))
    return { items, total: stop - first }
  }

  /** The extent holding gpa, if the guest has one there. */
  extentAt (gpa: number): AttributeExtent | undefined {
    const i = this.firstExtentAt(gpa)
    return i < this.extents.count && (this.extents.starts[i] as number) <= gpa ? extentOf(this.extents, i) : undefined
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

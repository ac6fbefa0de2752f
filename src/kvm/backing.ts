// What backs each gfn: populated pages in the shared backing (the VMM's anonymous memory) and
// in guest_memfd, and hwpoisoned guest_memfd pages (docs/spec/kvm-abi.md section 3). Conversions move
// no data: QEMU's kvm_convert_memory discards the old backing on every conversion
// (ram_block_discard_range going private, a guest_memfd hole punch going shared), so the
// page reads as zero next time. All three are extent maps: cost follows extents, not pages.
import { ExtentMap } from './extent-map.js'
import type { ExtentMapSnapshot, ExtentRun } from './extent-map.js'

export interface BackingRuns { shared: ExtentRun[], private: ExtentRun[], poisoned: ExtentRun[] }

export interface BackingSnapshot {
  shared: ExtentMapSnapshot
  private: ExtentMapSnapshot
  poisoned: ExtentMapSnapshot
}

export class Backing {
  /** 1 = a populated page in the shared backing. */
  readonly shared: ExtentMap
  /** 1 = a populated page (folio) in guest_memfd. */
  readonly private: ExtentMap
  /** 1 = a guest_memfd page that memory_failure() unmapped and marked hwpoison. */
  readonly poisoned: ExtentMap
  // A run [lo, hi) known populated in each backing, so a sequential sweep populates without
  // touching the maps; emptied whenever a discard could shrink it.
  private sharedLo = 0
  private sharedHi = 0
  private privateLo = 0
  private privateHi = 0

  constructor (shared = new ExtentMap(0), priv = new ExtentMap(0), poisoned = new ExtentMap(0)) {
    this.shared = shared
    this.private = priv
    this.poisoned = poisoned
  }

  /** Extents in the three maps: what the backing costs in memory. */
  get extentCount (): number { return this.shared.extentCount + this.private.extentCount + this.poisoned.extentCount }

  /** True when any page is poisoned; lets the fault path skip the lookup. */
  get anyPoisoned (): boolean { return this.poisoned.extentCount !== 0 }

  isPoisoned (gfn: number): boolean { return this.poisoned.extentCount !== 0 && this.poisoned.get(gfn) !== 0 }

  /** A completed access faults the page in (a read maps the zero page, a write allocates). */
  populate (gfn: number, priv: boolean): void {
    if (priv) {
      if (gfn >= this.privateLo && gfn < this.privateHi) return
      if (this.private.get(gfn) === 0) this.private.set(gfn, gfn + 1, 1)
      if (gfn === this.privateHi && this.privateHi > this.privateLo) this.privateHi++
      else { this.privateLo = gfn; this.privateHi = gfn + 1 }
    } else {
      if (gfn >= this.sharedLo && gfn < this.sharedHi) return
      if (this.shared.get(gfn) === 0) this.shared.set(gfn, gfn + 1, 1)
      if (gfn === this.sharedHi && this.sharedHi > this.sharedLo) this.sharedHi++
      else { this.sharedLo = gfn; this.sharedHi = gfn + 1 }
    }
  }

  /** memory_failure() on a guest_memfd folio: unmapped (no longer populated) and poisoned. */
  poison (gfn: number): void {
    this.private.set(gfn, gfn + 1, 0)
    this.privateLo = this.privateHi = 0
    this.poisoned.set(gfn, gfn + 1, 1)
  }

  /**
   * After [startGfn, endGfn) became private (toPrivate) or shared: discard the backing it
   * left. Going shared punches a guest_memfd hole, which also frees poisoned folios.
   */
  discard (startGfn: number, endGfn: number, toPrivate: boolean): void {
    if (startGfn >= endGfn) return
    if (toPrivate) {
      this.shared.set(startGfn, endGfn, 0)
      this.sharedLo = this.sharedHi = 0
    } else {
      this.private.set(startGfn, endGfn, 0)
      this.poisoned.set(startGfn, endGfn, 0)
      this.privateLo = this.privateHi = 0
    }
  }

  /** The three maps' runs over [startGfn, endGfn), for restore() to put back. */
  save (startGfn: number, endGfn: number): BackingRuns {
    return { shared: this.shared.runs(startGfn, endGfn), private: this.private.runs(startGfn, endGfn), poisoned: this.poisoned.runs(startGfn, endGfn) }
  }

  /** Puts back what save() took: the maps are as they were (canonical form merges the edges). */
  restore (saved: BackingRuns): void {
    for (const r of saved.shared) this.shared.set(r.start, r.end, r.value)
    for (const r of saved.private) this.private.set(r.start, r.end, r.value)
    for (const r of saved.poisoned) this.poisoned.set(r.start, r.end, r.value)
    this.sharedLo = this.sharedHi = this.privateLo = this.privateHi = 0
  }

  clear (): void {
    this.shared.clear()
    this.private.clear()
    this.poisoned.clear()
    this.sharedLo = this.sharedHi = this.privateLo = this.privateHi = 0
  }

  toJSON (): BackingSnapshot {
    return { shared: this.shared.toJSON(), private: this.private.toJSON(), poisoned: this.poisoned.toJSON() }
  }

  static fromJSON (s: BackingSnapshot): Backing {
    return new Backing(ExtentMap.fromJSON(s.shared), ExtentMap.fromJSON(s.private), ExtentMap.fromJSON(s.poisoned))
  }
}

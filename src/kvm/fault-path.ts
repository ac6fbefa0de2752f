// One guest memory access through KVM's fault path (docs/spec/kvm-abi.md section 4;
// arch/x86/kvm/mmu/mmu.c kvm_mmu_do_page_fault → kvm_mmu_faultin_pfn). Hot: no allocation
// per access; the result is written into one reused FaultInfo.
import { KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_MEMORY_EXIT_FLAG_PRIVATE, PAGE_SIZE } from './constants.js'
import type { AttributeMap } from './attribute-map.js'
import type { Backing } from './backing.js'
import type { Memslots } from './memslots.js'
import type { VmType } from './types.js'

/** The access completed with no exit. */
export const ACCESS_OK = 0
/** KVM_EXIT_MEMORY_FAULT: see FaultInfo errno/flags/gpa/size/convertible. */
export const ACCESS_MEMORY_FAULT = 1
/** A shared access with no memslot: emulated MMIO (KVM_EXIT_MMIO) at mmioGpa, mmioLen bytes. */
export const ACCESS_MMIO = 2
/**
 * The work budget ran out inside a multi-page access, at a page boundary: FaultPath.at says
 * where to resume (pass it back as `from`). Nothing the guest can see happened yet.
 */
export const ACCESS_PARTIAL = 3
export type AccessResult = typeof ACCESS_OK | typeof ACCESS_MEMORY_FAULT | typeof ACCESS_MMIO | typeof ACCESS_PARTIAL

/** Why KVM gave up on an access; overwritten by every faulting access. */
export interface FaultInfo {
  errno: 'EFAULT' | 'EHWPOISON'
  /** memory_fault.flags: KVM_MEMORY_EXIT_FLAG_PRIVATE iff the guest wanted private. */
  flags: number
  /** memory_fault.gpa/size: the faulting page (kvm_mmu_prepare_memory_fault_exit uses gfn << 12, PAGE_SIZE). */
  gpa: number
  size: number
  /**
   * False where converting the page cannot fix the fault: a private access with no memslot
   * or to a slot without guest_memfd (kvm_mmu_faultin_pfn_private: !kvm_slot_can_be_private),
   * and EHWPOISON. A VMM that converts anyway loops on the same fault.
   */
  convertible: boolean
  /** For ACCESS_MMIO: kvm_run.mmio phys_addr (shared bit stripped) and len (at most 8). */
  mmioGpa: number
  mmioLen: number
}

// Privacy models (docs/spec/kvm-abi.md 4.1).
const PRIV_NONE = 0 // DEFAULT: always shared
const PRIV_ATTR = 1 // SW_PROTECTED: the gfn's attribute (kvm_mem_is_private in kvm_mmu_do_page_fault)
const PRIV_CBIT = 2 // SNP: the C-bit, PFERR_PRIVATE_ACCESS in the NPF error code
const PRIV_SHARED_BIT = 3 // TDX: the GPA's shared bit (kvm_is_addr_direct)

export class FaultPath {
  /** TDX: 2^(gpaw-1), the shared bit; 0 on other types. */
  readonly sharedBit: number
  readonly info: FaultInfo = { errno: 'EFAULT', flags: 0, gpa: 0, size: 0, convertible: false, mmioGpa: 0, mmioLen: 0 }
  private readonly mode: number
  /** After access(): the work unit it stopped at (ACCESS_PARTIAL: where to resume). */
  at = 0

  constructor (
    type: VmType,
    gpaw: 48 | 52,
    private readonly memslots: Memslots,
    private readonly attrs: AttributeMap,
    private readonly backing: Backing
  ) {
    this.mode = type === 'default' ? PRIV_NONE : type === 'sw_protected' ? PRIV_ATTR : type === 'snp' ? PRIV_CBIT : PRIV_SHARED_BIT
    this.sharedBit = type === 'tdx' ? 2 ** (gpaw - 1) : 0
  }

  /** TDX: does gpa carry the shared bit? (Bit tests on numbers above 2^32 need arithmetic.) */
  hasSharedBit (gpa: number): boolean {
    const bit = this.sharedBit
    return bit !== 0 && gpa >= bit && Math.floor(gpa / bit) % 2 === 1
  }

  /**
   * One access of `size` bytes at `gpa` as the guest issued it (TDX: shared accesses carry
   * the shared bit). `cbit` is SNP's C-bit, ignored elsewhere. Checks each page in turn
   * and reports the first that faults; on success every page is populated.
   *
   * Work is counted in units, one per page checked and one per page populated (each is a
   * lookup or an edit of an extent map): an n-page access is units [0, 2n). The access
   * starts at unit `from` and stops at a page boundary once `budget` units are spent
   * (ACCESS_PARTIAL); `at` is then the unit to resume from, else the unit it ended at.
   * At least one unit is done per call, so an access always progresses.
   */
  access (gpa: number, size: number, cbit: boolean, from = 0, budget = Infinity): AccessResult {
    let priv: boolean
    switch (this.mode) {
      case PRIV_CBIT: priv = cbit; break
      case PRIV_SHARED_BIT:
        // The shared bit is stripped before anything else looks at the GPA (gfn_to_gpa of
        // kvm_gfn_direct_bits is masked off in the TDP MMU).
        if (this.hasSharedBit(gpa)) { gpa -= this.sharedBit; priv = false } else priv = true
        break
      default: priv = false
    }
    const first = Math.floor(gpa / PAGE_SIZE)
    const last = Math.floor((gpa + size - 1) / PAGE_SIZE)
    if (first === last) {
      // One page is never split: two units, done at once.
      this.at = 2
      const r = this.page(first, priv)
      if (r !== ACCESS_OK) { this.at = 1; return this.report(r, gpa, size) }
      this.backing.populate(first, this.mode === PRIV_ATTR ? this.attrPrivate(first) : priv)
      return ACCESS_OK
    }
    const n = last - first + 1
    const stop = budget >= 1 ? from + budget : from + 1
    let u = from
    for (; u < n; u++) {
      if (u >= stop) { this.at = u; return ACCESS_PARTIAL }
      const gfn = first + u
      const r = this.page(gfn, priv)
      if (r !== ACCESS_OK) {
        this.at = u + 1
        const at = gfn === first ? gpa : gfn * PAGE_SIZE
        return this.report(r, at, gpa + size - at)
      }
    }
    for (; u < 2 * n; u++) {
      if (u >= stop) { this.at = u; return ACCESS_PARTIAL }
      const gfn = first + u - n
      this.backing.populate(gfn, this.mode === PRIV_ATTR ? this.attrPrivate(gfn) : priv)
    }
    this.at = u
    return ACCESS_OK
  }

  private attrPrivate (gfn: number): boolean {
    return (this.attrs.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0
  }

  private report (r: AccessResult, at: number, rest: number): AccessResult {
    if (r === ACCESS_MMIO) {
      this.info.mmioGpa = at
      this.info.mmioLen = rest < 8 ? rest : 8
    }
    return r
  }

  /** The checks for one page, in kvm_mmu_faultin_pfn's order. */
  private page (gfn: number, wantPrivate: boolean): AccessResult {
    const attrPrivate = this.attrPrivate(gfn)
    const priv = this.mode === PRIV_ATTR ? attrPrivate : wantPrivate
    const slot = this.memslots.find(gfn)
    // kvm_mmu_faultin_pfn checks fault->is_private != kvm_mem_is_private() before it looks
    // at the slot: an implicit conversion request (or a guest bug). Only SNP and TDX can
    // disagree; on SW_PROTECTED is_private comes from the attribute itself.
    if (priv !== attrPrivate) {
      return this.memoryFault(gfn, 'EFAULT', priv, !priv || (slot !== null && slot.guestMemfd))
    }
    if (slot === null) {
      // kvm_handle_noslot_fault: a private access cannot be emulated MMIO.
      return priv ? this.memoryFault(gfn, 'EFAULT', true, false) : ACCESS_MMIO
    }
    if (priv) {
      // kvm_mmu_faultin_pfn_private: !kvm_slot_can_be_private → EFAULT; converting cannot help.
      if (!slot.guestMemfd) return this.memoryFault(gfn, 'EFAULT', true, false)
      // kvm_gmem_get_pfn on a hwpoisoned folio → -EHWPOISON.
      if (this.backing.isPoisoned(gfn)) return this.memoryFault(gfn, 'EHWPOISON', true, false)
    }
    return ACCESS_OK
  }

  private memoryFault (gfn: number, errno: 'EFAULT' | 'EHWPOISON', priv: boolean, convertible: boolean): AccessResult {
    const info = this.info
    info.errno = errno
    info.flags = priv ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0
    info.gpa = gfn * PAGE_SIZE
    info.size = PAGE_SIZE
    info.convertible = convertible
    return ACCESS_MEMORY_FAULT
  }
}

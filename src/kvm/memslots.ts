// Memslots as KVM_SET_USER_MEMORY_REGION2 creates them (virt/kvm/kvm_main.c
// kvm_set_memory_region / check_memory_region_flags): page-aligned, non-overlapping, unique
// ids; a guest_memfd (KVM_MEM_GUEST_MEMFD) only on VM types that have private memory; on TDX
// no slot may reach the shared bit (arch/x86/kvm/x86.c kvm_arch_prepare_memory_region).
import { GPA_LIMIT, PAGE_SIZE } from './constants.js'
import type { Errno } from './constants.js'
import type { MemslotConfig, VmType } from './types.js'
import { KvmError } from './types.js'

/** One memslot in gfns: [baseGfn, endGfn). */
export interface Memslot {
  readonly slot: number
  readonly baseGfn: number
  readonly endGfn: number
  readonly guestMemfd: boolean
}

const invalid = (errno: Errno, message: string): KvmError =>
  new KvmError('INVALID_CONFIG', message, { errno })

const isU64 = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** Throws KvmError INVALID_CONFIG (EINVAL, or EEXIST for a reused id or an overlap). */
export function validateMemslots (configs: unknown, type: VmType, gpaw: 48 | 52): MemslotConfig[] {
  if (!Array.isArray(configs)) throw invalid('EINVAL', 'memslots must be an array')
  const out: MemslotConfig[] = []
  const ids = new Set<number>()
  for (let i = 0; i < configs.length; i++) {
    const c = configs[i] as Partial<MemslotConfig> | null
    const at = `memslots[${i}]`
    if (typeof c !== 'object' || c === null) throw invalid('EINVAL', `${at} must be an object`)
    const { slot, gpa, size, guest_memfd: gmem } = c
    if (!Number.isInteger(slot) || (slot as number) < 0 || (slot as number) > 0x7fff) throw invalid('EINVAL', `${at}.slot must be an integer from 0 to 32767`)
    if (!isU64(gpa)) throw invalid('EINVAL', `${at}.gpa must be a non-negative safe integer`)
    if (!isU64(size) || size === 0) throw invalid('EINVAL', `${at}.size must be a positive safe integer`)
    if (typeof gmem !== 'boolean') throw invalid('EINVAL', `${at}.guest_memfd must be true or false`)
    // __kvm_set_memory_region: guest_phys_addr and memory_size must be page-aligned.
    if (gpa % PAGE_SIZE !== 0) throw invalid('EINVAL', `${at}.gpa ${gpa} is not ${PAGE_SIZE}-byte aligned`)
    if (size % PAGE_SIZE !== 0) throw invalid('EINVAL', `${at}.size ${size} is not ${PAGE_SIZE}-byte aligned`)
    if (gpa + size > GPA_LIMIT) throw invalid('EINVAL', `${at}: gpa + size exceeds the 2^52 guest physical limit`)
    // check_memory_region_flags: KVM_MEM_GUEST_MEMFD needs kvm_arch_has_private_mem.
    if (gmem && type === 'default') throw invalid('EINVAL', `${at}: a guest_memfd slot needs a VM type with private memory, not default`)
    if (ids.has(slot as number)) throw invalid('EEXIST', `${at}: slot id ${slot as number} is used twice`)
    ids.add(slot as number)
    out.push({ slot: slot as number, gpa, size, guest_memfd: gmem })
  }
  const sorted = [...out].sort((a, b) => a.gpa - b.gpa)
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as MemslotConfig
    const cur = sorted[i] as MemslotConfig
    // __kvm_set_memory_region: a new slot may not overlap an existing one (EEXIST).
    if (cur.gpa < prev.gpa + prev.size) throw invalid('EEXIST', `memslot ${cur.slot} overlaps memslot ${prev.slot}`)
  }
  if (type === 'tdx') {
    // kvm_arch_prepare_memory_region: kvm_is_gfn_alias(kvm, base_gfn + npages - 1) → EINVAL.
    // The last gfn carrying the shared bit means the slot would alias private and shared GPAs.
    const sharedBit = 2 ** (gpaw - 1)
    for (const s of out) {
      const last = s.gpa + s.size - PAGE_SIZE
      if (Math.floor(last / sharedBit) % 2 === 1) {
        throw invalid('EINVAL', `memslot ${s.slot}: its last page ${last} has the shared bit (bit ${gpaw - 1}) set: TDX memslots may not alias shared GPAs`)
      }
    }
  }
  return out
}

/** The gfn → memslot lookup (search_memslots), with a one-entry cache for the hot path. */
export class Memslots {
  readonly slots: readonly Memslot[]
  private readonly starts: number[]
  private last: Memslot | null = null

  constructor (configs: readonly MemslotConfig[]) {
    this.slots = configs
      .map(c => ({ slot: c.slot, baseGfn: c.gpa / PAGE_SIZE, endGfn: (c.gpa + c.size) / PAGE_SIZE, guestMemfd: c.guest_memfd }))
      .sort((a, b) => a.baseGfn - b.baseGfn)
    this.starts = this.slots.map(s => s.baseGfn)
  }

  /** The slot holding gfn, or null (no allocation; the last hit is cached). */
  find (gfn: number): Memslot | null {
    const last = this.last
    if (last !== null && gfn >= last.baseGfn && gfn < last.endGfn) return last
    const starts = this.starts
    let lo = 0
    let hi = starts.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((starts[mid] as number) <= gfn) lo = mid + 1
      else hi = mid
    }
    if (lo === 0) return null
    const s = this.slots[lo - 1] as Memslot
    if (gfn >= s.endGfn) return null
    this.last = s
    return s
  }

  /** The slot holding gpa's page, or null. */
  findGpa (gpa: number): Memslot | null { return this.find(Math.floor(gpa / PAGE_SIZE)) }

  /** Every guest_memfd slot, for boot-time attributes. */
  guestMemfdSlots (): Memslot[] { return this.slots.filter(s => s.guestMemfd) }
}

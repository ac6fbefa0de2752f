// Per-gfn memory attributes and KVM_SET_MEMORY_ATTRIBUTES (docs/spec/kvm-abi.md section 3;
// virt/kvm/kvm_main.c kvm_vm_ioctl_set_mem_attributes). KVM stores one xarray entry per
// page; this keeps merged extents, so converting a 1 TiB guest is one extent edit.
import { GPA_LIMIT, KVM_MEMORY_ATTRIBUTE_PRIVATE, PAGE_SIZE } from './constants.js'
import { ExtentMap } from './extent-map.js'
import type { ExtentMapSnapshot } from './extent-map.js'
import type { AttributeExtent, MemoryAttributes } from './types.js'
import { KvmError } from './types.js'

const IOCTL = 'KVM_SET_MEMORY_ATTRIBUTES'

const einval = (message: string): KvmError => new KvmError('INVALID_ARGUMENT', message, { errno: 'EINVAL' })

/** A u64 as JSON carries it: a non-negative safe integer (anything else cannot be exact). */
const isU64 = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/**
 * Checks [gpa, gpa + size) as KVM checks a range: integer, no overflow, page-aligned.
 * KVM's limit is the u64 wrap; ours is also GPA_LIMIT (2^52, MAXPHYADDR), because GPAs are
 * JSON safe integers and no x86 guest has memory above it.
 */
function checkRange (what: string, addressField: string, address: unknown, size: unknown): void {
  if (!isU64(address)) throw einval(`${what}: ${addressField} must be a non-negative safe integer, got ${String(address)}`)
  if (!isU64(size)) throw einval(`${what}: size must be a non-negative safe integer, got ${String(size)}`)
  if (address + size > GPA_LIMIT) throw einval(`${what}: ${addressField} + size (${address} + ${size}) exceeds the 2^52 guest physical limit`)
  if (address % PAGE_SIZE !== 0) throw einval(`${what}: ${addressField} ${address} is not ${PAGE_SIZE}-byte aligned`)
  if (size % PAGE_SIZE !== 0) throw einval(`${what}: size ${size} is not ${PAGE_SIZE}-byte aligned`)
}

export class AttributeMap {
  /** KVM_MEMORY_ATTRIBUTE_PRIVATE on VMs with private memory, 0 on DEFAULT VMs. */
  readonly supportedAttributes: number
  private readonly map: ExtentMap

  constructor (supportedAttributes: number, initial?: ExtentMap) {
    if (!Number.isInteger(supportedAttributes) || supportedAttributes < 0 || (supportedAttributes | 0) !== supportedAttributes) {
      throw new RangeError(`AttributeMap: supportedAttributes must be a small bit mask, got ${String(supportedAttributes)}`)
    }
    this.supportedAttributes = supportedAttributes
    this.map = initial ?? new ExtentMap(0)
  }

  /** KVM_SET_MEMORY_ATTRIBUTES. */
  set (arg: MemoryAttributes): void {
    // Checked in kvm_vm_ioctl_set_mem_attributes' order, all before any change: the ioctl
    // is all-or-nothing.
    const { address, size, attributes, flags } = arg
    if (flags !== 0) throw einval(`${IOCTL}: flags must be 0, got ${String(flags)}`)
    if (!isU64(attributes)) throw einval(`${IOCTL}: attributes must be a non-negative safe integer, got ${String(attributes)}`)
    // attributes & ~supported, without JS's 32-bit truncation of large values.
    if (attributes - (attributes & this.supportedAttributes) !== 0) {
      throw einval(`${IOCTL}: attributes 0x${attributes.toString(16)} has bits outside the supported 0x${this.supportedAttributes.toString(16)}` +
        (this.supportedAttributes === 0 ? ' (this VM type has no private memory)' : ''))
    }
    if (size === 0) throw einval(`${IOCTL}: size must not be 0`)
    checkRange(IOCTL, 'address', address, size)
    // Needs no memslot; a range already holding `attributes` is a no-op (ExtentMap.set).
    this.map.set(address / PAGE_SIZE, (address + size) / PAGE_SIZE, attributes)
  }

  /** Attributes of one gfn (hot path: called per guest access). */
  get (gfn: number): number { return this.map.get(gfn) }

  isPrivate (gfn: number): boolean { return (this.map.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0 }

  /**
   * The extents over [gpa, gpa + size) in bytes, sorted, merged, gaps as attributes 0; at
   * most `max` of them (ExtentMap.runs: a cut list ends at its last extent's end).
   */
  extents (gpa: number, size: number, max = Infinity): AttributeExtent[] {
    checkRange('memory attributes query', 'gpa', gpa, size)
    const out: AttributeExtent[] = []
    for (const r of this.map.runs(gpa / PAGE_SIZE, (gpa + size) / PAGE_SIZE, max)) {
      out.push({ gpa: r.start * PAGE_SIZE, size: (r.end - r.start) * PAGE_SIZE, attributes: r.value })
    }
    return out
  }

  /** Unchecked internal setter in gfns for boot-time setup (QEMU marks guest_memfd slots private at creation). */
  setRange (startGfn: number, endGfn: number, attributes: number): void {
    this.map.set(startGfn, endGfn, attributes)
  }

  get extentCount (): number { return this.map.extentCount }

  toJSON (): ExtentMapSnapshot { return this.map.toJSON() }

  static fromJSON (supportedAttributes: number, s: ExtentMapSnapshot): AttributeMap {
    const map = ExtentMap.fromJSON(s)
    // KVM's default is shared, and a snapshot cannot hold bits the VM type cannot set.
    if (s.default !== 0) throw new TypeError('AttributeMap.fromJSON: default must be 0 (shared)')
    for (const v of s.values) {
      if ((v & ~supportedAttributes) !== 0) throw new TypeError(`AttributeMap.fromJSON: attributes 0x${v.toString(16)} not supported by this VM`)
    }
    return new AttributeMap(supportedAttributes, map)
  }
}

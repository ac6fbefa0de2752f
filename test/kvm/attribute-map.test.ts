// AttributeMap: KVM_SET_MEMORY_ATTRIBUTES as kvm_vm_ioctl_set_mem_attributes checks and
// applies it (docs/spec/kvm-abi.md section 3), one test per rule.
import t from 'tap'
import { AttributeMap } from '../../src/kvm/attribute-map.js'
import { ExtentMap } from '../../src/kvm/extent-map.js'
import { GPA_LIMIT, KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE, PAGE_SIZE } from '../../src/kvm/constants.js'
import { KvmError } from '../../src/kvm/types.js'
import type { MemoryAttributes } from '../../src/kvm/types.js'

const GiB = 2 ** 30
const TiB = 2 ** 40
const confidential = (): AttributeMap => new AttributeMap(PRIVATE)
const einval = (field: RegExp) => ({ name: 'KvmError', code: 'INVALID_ARGUMENT', errno: 'EINVAL', message: field })
const attrs = (address: number, size: number, attributes = PRIVATE, flags = 0): MemoryAttributes =>
  ({ address, size, attributes, flags })

void t.test('KVM_SET_MEMORY_ATTRIBUTES: a valid call sets exactly [address, address + size)', async t => {
  const m = confidential()
  m.set(attrs(2 * PAGE_SIZE, 3 * PAGE_SIZE))
  t.equal(m.get(1), 0)
  t.equal(m.get(2), PRIVATE)
  t.equal(m.isPrivate(4), true)
  t.equal(m.isPrivate(5), false)
  t.same(m.extents(0, 8 * PAGE_SIZE), [
    { gpa: 0, size: 2 * PAGE_SIZE, attributes: 0 },
    { gpa: 2 * PAGE_SIZE, size: 3 * PAGE_SIZE, attributes: PRIVATE },
    { gpa: 5 * PAGE_SIZE, size: 3 * PAGE_SIZE, attributes: 0 }
  ])
  m.set(attrs(3 * PAGE_SIZE, PAGE_SIZE, 0)) // back to shared: attributes 0 is always allowed
  t.equal(m.isPrivate(3), false)
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: flags != 0 is EINVAL', async t => {
  const m = confidential()
  t.throws(() => m.set(attrs(0, PAGE_SIZE, PRIVATE, 1)), einval(/flags/))
  t.throws(() => m.set(attrs(0, PAGE_SIZE, PRIVATE, -1)), einval(/flags/))
  t.throws(() => m.set({ address: 0, size: PAGE_SIZE, attributes: PRIVATE } as MemoryAttributes), einval(/flags/))
  t.equal(m.extentCount, 0)
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: an attribute bit outside the supported set is EINVAL', async t => {
  const m = confidential()
  t.throws(() => m.set(attrs(0, PAGE_SIZE, 1)), einval(/attributes/))
  t.throws(() => m.set(attrs(0, PAGE_SIZE, PRIVATE | 16)), einval(/attributes/))
  t.throws(() => m.set(attrs(0, PAGE_SIZE, 2 ** 40 + PRIVATE)), einval(/attributes/), 'bits above 32 are not lost to JS bit ops')
  t.throws(() => m.set(attrs(0, PAGE_SIZE, -PRIVATE)), einval(/attributes/))
  t.throws(() => m.set(attrs(0, PAGE_SIZE, 0.5)), einval(/attributes/))
  t.equal(m.extentCount, 0)
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: a DEFAULT VM supports no attributes, so PRIVATE is EINVAL', async t => {
  const m = new AttributeMap(0)
  t.throws(() => m.set(attrs(0, PAGE_SIZE, PRIVATE)), einval(/attributes.*no private memory/))
  m.set(attrs(0, PAGE_SIZE, 0)) // shared is still a valid (no-op) request
  t.equal(m.extentCount, 0)
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: size == 0 is EINVAL', async t => {
  t.throws(() => confidential().set(attrs(0, 0)), einval(/size must not be 0/))
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: address + size overflowing is EINVAL (and beyond the 2^52 GPA limit)', async t => {
  const m = confidential()
  t.throws(() => m.set(attrs(GPA_LIMIT - PAGE_SIZE, 2 * PAGE_SIZE)), einval(/address \+ size/))
  t.throws(() => m.set(attrs(0, GPA_LIMIT + PAGE_SIZE)), einval(/address \+ size/))
  t.throws(() => m.set(attrs(2 ** 53, PAGE_SIZE)), einval(/address/), 'past 2^53 a GPA is not exact')
  t.throws(() => m.set(attrs(0, 2 ** 64)), einval(/size/))
  m.set(attrs(GPA_LIMIT - PAGE_SIZE, PAGE_SIZE)) // the last page is fine
  t.equal(m.isPrivate(GPA_LIMIT / PAGE_SIZE - 1), true)
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: address or size not page-aligned is EINVAL', async t => {
  const m = confidential()
  t.throws(() => m.set(attrs(1, PAGE_SIZE)), einval(/address 1 is not 4096-byte aligned/))
  t.throws(() => m.set(attrs(PAGE_SIZE, PAGE_SIZE + 512)), einval(/size 4608 is not 4096-byte aligned/))
  t.throws(() => m.set(attrs(PAGE_SIZE / 2, PAGE_SIZE / 2)), einval(/aligned/))
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: negative, fractional or non-number address/size is EINVAL', async t => {
  const m = confidential()
  t.throws(() => m.set(attrs(-PAGE_SIZE, PAGE_SIZE)), einval(/address/))
  t.throws(() => m.set(attrs(0, -PAGE_SIZE)), einval(/size/))
  t.throws(() => m.set(attrs(4096.5, PAGE_SIZE)), einval(/address/))
  t.throws(() => m.set(attrs(Number.NaN, PAGE_SIZE)), einval(/address/))
  t.throws(() => m.set({ address: '0', size: PAGE_SIZE, attributes: PRIVATE, flags: 0 } as unknown as MemoryAttributes), einval(/address/))
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: all-or-nothing, a failed call leaves the map unchanged', async t => {
  const m = confidential()
  m.set(attrs(0, 4 * GiB))
  m.set(attrs(GiB, PAGE_SIZE, 0))
  const before = JSON.stringify(m.toJSON())
  const bad: MemoryAttributes[] = [
    attrs(0, 8 * GiB, 0, 1), // every other field valid, flags not
    attrs(0, 8 * GiB, 0x18), // one good bit, one bad
    attrs(0, 8 * GiB + 1, 0), // misaligned tail: nothing of the aligned part applies
    attrs(GPA_LIMIT - GiB, 2 * GiB, 0) // runs past the limit
  ]
  for (const arg of bad) {
    t.throws(() => m.set(arg), KvmError)
    t.equal(JSON.stringify(m.toJSON()), before, JSON.stringify(arg))
  }
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: setting a range to the value it already has is a no-op', async t => {
  const m = confidential()
  m.set(attrs(0, GiB))
  const before = m.toJSON()
  m.set(attrs(PAGE_SIZE, 16 * PAGE_SIZE))
  m.set(attrs(GiB, GiB, 0))
  t.same(m.toJSON(), before)
  t.equal(m.extentCount, 2)
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: needs no memslot (any GPA below the limit is accepted)', async t => {
  const m = confidential()
  m.set(attrs(3 * TiB, GiB))
  t.equal(m.isPrivate(3 * TiB / PAGE_SIZE), true)
})

void t.test('KVM_SET_MEMORY_ATTRIBUTES: converting a whole 1 TiB guest is one extent edit, not 2^28 pages', async t => {
  const m = confidential()
  m.set(attrs(0, TiB))
  t.equal(m.extentCount, 2)
  m.set(attrs(0, TiB, 0))
  t.equal(m.extentCount, 0)
  t.same(m.extents(0, TiB), [{ gpa: 0, size: TiB, attributes: 0 }])
})

void t.test('extents: sorted, merged, gaps as attributes 0, and checked like the ioctl', async t => {
  const m = confidential()
  m.set(attrs(0, 2 * PAGE_SIZE))
  m.set(attrs(2 * PAGE_SIZE, 2 * PAGE_SIZE)) // adjacent: merges
  t.same(m.extents(PAGE_SIZE, 4 * PAGE_SIZE), [
    { gpa: PAGE_SIZE, size: 3 * PAGE_SIZE, attributes: PRIVATE },
    { gpa: 4 * PAGE_SIZE, size: PAGE_SIZE, attributes: 0 }
  ])
  t.same(m.extents(0, 0), [])
  t.throws(() => m.extents(1, PAGE_SIZE), einval(/gpa 1 is not 4096-byte aligned/))
  t.throws(() => m.extents(0, 100), einval(/size/))
  t.throws(() => m.extents(0, GPA_LIMIT + PAGE_SIZE), einval(/exceeds/))
  t.throws(() => m.extents(-PAGE_SIZE, PAGE_SIZE), einval(/gpa/))
})

void t.test('setRange marks slots at boot without the ioctl checks (QEMU marks guest_memfd slots private)', async t => {
  const m = confidential()
  m.setRange(256, 512, PRIVATE)
  t.equal(m.isPrivate(255), false)
  t.equal(m.isPrivate(256), true)
  t.equal(m.isPrivate(511), true)
  t.equal(m.extentCount, 2)
})

void t.test('an AttributeMap can wrap an existing ExtentMap', async t => {
  const e = new ExtentMap()
  e.set(0, 10, PRIVATE)
  const m = new AttributeMap(PRIVATE, e)
  t.equal(m.isPrivate(9), true)
  t.throws(() => new AttributeMap(-1), RangeError)
})

void t.test('snapshot round trip keeps the attributes; a snapshot with unsupported bits is refused', async t => {
  const m = confidential()
  m.set(attrs(0, GiB))
  m.set(attrs(PAGE_SIZE, PAGE_SIZE, 0))
  const back = AttributeMap.fromJSON(PRIVATE, JSON.parse(JSON.stringify(m.toJSON())))
  t.same(back.extents(0, 2 * GiB), m.extents(0, 2 * GiB))
  t.equal(back.supportedAttributes, PRIVATE)
  t.throws(() => AttributeMap.fromJSON(0, m.toJSON()), TypeError)
  t.throws(() => AttributeMap.fromJSON(PRIVATE, { default: PRIVATE, starts: [], values: [] }), TypeError)
})

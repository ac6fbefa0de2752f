// The memory map's numbers: per-column private, memslot and poison shares must be exact
// whatever the number of extents, and zoom and pan must stay inside the guest.
import t from 'tap'
import { GuestMap, MIN_VIEW, RangeIndex, clampView, fillExtents, panView, zoomView } from '../../web/map/model.js'
import type { Range } from '../../web/map/model.js'

const P = 8 // KVM_MEMORY_ATTRIBUTE_PRIVATE
const GiB = 2 ** 30
const TiB = 2 ** 40

void t.test('RangeIndex.covered agrees with a byte-by-byte count', async t => {
  const ranges: Range[] = [{ gpa: 10, size: 5 }, { gpa: 20, size: 1 }, { gpa: 30, size: 10 }]
  const idx = RangeIndex.of(ranges)
  const brute = (a: number, b: number): number => {
    let n = 0
    for (let x = a; x < b; x++) if (ranges.some(r => x >= r.gpa && x < r.gpa + r.size)) n++
    return n
  }
  for (let a = 0; a <= 45; a += 3) {
    for (let b = a; b <= 45; b += 2) t.equal(idx.covered(a, b), brute(a, b), `[${a}, ${b})`)
  }
  t.equal(RangeIndex.of([]).covered(0, 100), 0)
})

void t.test('fillExtents makes the guest whole: gaps shared, neighbours merged, clipped to it', async t => {
  t.same(fillExtents([{ gpa: 4096, size: 4096, attributes: P }, { gpa: 8192, size: 4096, attributes: P }], 0, 16384), [
    { gpa: 0, size: 4096, attributes: 0 },
    { gpa: 4096, size: 8192, attributes: P },
    { gpa: 12288, size: 4096, attributes: 0 }
  ])
  t.same(fillExtents([{ gpa: 0, size: 4 * GiB, attributes: P }], GiB, 2 * GiB), [{ gpa: GiB, size: GiB, attributes: P }])
  t.same(fillExtents([], 0, 4096), [{ gpa: 0, size: 4096, attributes: 0 }])
})

void t.test('columns: private share, guest_memfd and plain slots, poison, per column', async t => {
  const map = new GuestMap(
    [{ slot: 1, gpa: GiB, size: GiB, guest_memfd: false }, { slot: 0, gpa: 0, size: GiB, guest_memfd: true }],
    [{ gpa: 0, size: GiB / 2, attributes: P }],
    [{ gpa: 3 * GiB / 2, size: 4096, attributes: 0, shared_populated: false, private_populated: false, poisoned: true }]
  )
  t.equal(map.lo, 0)
  t.equal(map.hi, 2 * GiB)
  t.same(map.memslots.map(s => s.slot), [0, 1], 'sorted by address')
  const c = map.columns(0, 2 * GiB, 4)
  t.same([...c.private], [1, 0, 0, 0])
  t.same([...c.gmem], [1, 1, 0, 0])
  t.same([...c.plain], [0, 0, 1, 1])
  t.same([...c.poisoned], [0, 0, 0, 1], 'a single poisoned page still marks its column')
  t.equal(map.extentAt(GiB / 2 - 1)?.attributes, P)
  t.equal(map.extentAt(GiB / 2)?.attributes, 0)
  t.equal(map.extentAt(3 * GiB), undefined)
})

void t.test('a 1 TiB guest with a million extents: columns add up to the private bytes', async t => {
  const n = 1_000_000
  const step = TiB / n // not page-aligned on purpose: columns cut extents anywhere
  const extents = []
  for (let i = 0; i < n; i += 2) extents.push({ gpa: Math.round(i * step), size: Math.round((i + 1) * step) - Math.round(i * step), attributes: P })
  const privateTotal = extents.reduce((s, e) => s + e.size, 0)
  const map = new GuestMap([{ slot: 0, gpa: 0, size: TiB, guest_memfd: true }], extents)
  t.equal(map.extentCount, n, 'private and shared alternate')
  const width = 2400
  const t0 = performance.now()
  const c = map.columns(0, TiB, width)
  const ms = performance.now() - t0
  const sum = c.private.reduce((s, f) => s + f * (TiB / width), 0)
  t.ok(Math.abs(sum - privateTotal) / privateTotal < 1e-6, 'the columns hold every private byte')
  t.ok(c.private.every(f => f > 0.49 && f < 0.51), 'each column is half private')
  t.comment(`columns for ${width} px over ${n} extents: ${ms.toFixed(1)} ms`)
  const listed = map.extentsIn(TiB / 2, TiB / 2 + 10 * step, 4)
  t.equal(listed.items.length, 4)
  t.ok(listed.total >= 10 && listed.total <= 11, `${listed.total} extents meet ten extents' width`)
  t.ok((listed.items[0]?.gpa ?? Infinity) <= TiB / 2)
})

void t.test('zoom and pan stay inside the guest and no narrower than MIN_VIEW', async t => {
  const whole = { start: 0, end: 4 * GiB }
  const half = zoomView(whole, 0.5, 0.5, 0, 4 * GiB)
  t.same(half, { start: GiB, end: 3 * GiB }, 'zooms about the middle')
  t.same(zoomView(whole, 0.5, 0, 0, 4 * GiB), { start: 0, end: 2 * GiB }, 'zooms about the left edge')
  t.same(zoomView(half, 4, 0.5, 0, 4 * GiB), whole, 'never wider than the guest')
  let v = whole
  for (let i = 0; i < 60; i++) v = zoomView(v, 0.5, 0.3, 0, 4 * GiB)
  t.equal(v.end - v.start, MIN_VIEW)
  t.same(panView(half, -1, 0, 4 * GiB), { start: 0, end: 2 * GiB }, 'stops at the bottom')
  t.same(panView(half, 5, 0, 4 * GiB), { start: 2 * GiB, end: 4 * GiB }, 'stops at the top')
  t.same(clampView({ start: -5, end: 10 }, 0, 4 * GiB), { start: 0, end: MIN_VIEW })
})

// ExtentMap: merged extents over gfns, edited and queried in time per extent, never per page.
import t from 'tap'
import { ExtentMap } from '../../src/kvm/extent-map.js'

const TIB_PAGES = 2 ** 28

void t.test('an empty map holds the default everywhere', async t => {
  const m = new ExtentMap(3)
  t.equal(m.get(0), 3)
  t.equal(m.get(2 ** 40), 3)
  t.equal(m.extentCount, 0)
  t.same(m.runs(0, 10), [{ start: 0, end: 10, value: 3 }])
  t.same(new ExtentMap().toJSON(), { default: 0, starts: [], values: [] })
})

void t.test('set covers exactly [start, end)', async t => {
  const m = new ExtentMap()
  t.equal(m.set(10, 20, 8), true)
  t.equal(m.get(9), 0)
  t.equal(m.get(10), 8)
  t.equal(m.get(19), 8)
  t.equal(m.get(20), 0)
  t.equal(m.extentCount, 2) // a boundary at 10 (to 8) and one at 20 (back to 0)
})

void t.test('set to the value a range already has is a no-op and returns false', async t => {
  const m = new ExtentMap()
  t.equal(m.set(0, 100, 0), false)
  m.set(10, 20, 8)
  t.equal(m.set(12, 18, 8), false)
  t.equal(m.set(10, 20, 8), false)
  t.equal(m.set(5, 5, 8), false, 'an empty range changes nothing')
  t.same(m.toJSON(), { default: 0, starts: [10, 20], values: [8, 0] })
})

void t.test('set merges with equal neighbours on both sides', async t => {
  const m = new ExtentMap()
  m.set(0, 10, 8)
  m.set(20, 30, 8)
  t.equal(m.extentCount, 4)
  m.set(10, 20, 8)
  t.same(m.runs(0, 40), [{ start: 0, end: 30, value: 8 }, { start: 30, end: 40, value: 0 }])
  t.equal(m.extentCount, 2)
  m.set(30, 40, 8) // adjacent on the left only
  t.same(m.toJSON().starts, [0, 40])
  m.set(0, 40, 0) // back to the default: no boundary left
  t.equal(m.extentCount, 0)
})

void t.test('set splits an extent at both edges and inside', async t => {
  const m = new ExtentMap()
  m.set(0, 100, 8)
  m.set(40, 60, 0)
  t.same(m.runs(0, 100), [
    { start: 0, end: 40, value: 8 }, { start: 40, end: 60, value: 0 }, { start: 60, end: 100, value: 8 }
  ])
  m.set(0, 1, 2) // left edge
  m.set(99, 100, 2) // right edge
  t.same(m.runs(0, 101).map(r => [r.start, r.end, r.value]), [
    [0, 1, 2], [1, 40, 8], [40, 60, 0], [60, 99, 8], [99, 100, 2], [100, 101, 0]
  ])
})

void t.test('set over many extents replaces them all', async t => {
  const m = new ExtentMap()
  for (let i = 0; i < 10_000; i++) m.set(i * 4, i * 4 + 1, 1 + (i % 3))
  t.equal(m.extentCount, 20_000)
  t.equal(m.set(2, 39_990, 5), true)
  t.same(m.runs(0, 40_000).map(r => [r.start, r.end, r.value]), [
    [0, 1, 1], [1, 2, 0], [2, 39_990, 5], [39_990, 39_992, 0], [39_992, 39_993, 3], [39_993, 39_996, 0],
    [39_996, 39_997, 1], [39_997, 40_000, 0]
  ])
  t.equal(m.extentCount, 8)
  t.equal(m.get(20_000), 5)
  m.set(0, 40_000, 0)
  t.equal(m.extentCount, 0)
})

void t.test('get sees every change: the lookup cache is invalidated on mutation', async t => {
  const m = new ExtentMap()
  t.equal(m.get(50), 0) // caches the extent [0, inf)
  m.set(40, 60, 8)
  t.equal(m.get(50), 8)
  t.equal(m.get(50), 8) // cached hit
  m.set(50, 51, 0)
  t.equal(m.get(50), 0)
  t.equal(m.get(49), 8)
  m.clear()
  t.equal(m.get(49), 0)
  m.set(0, 10, 1)
  const snap = ExtentMap.fromJSON({ default: 0, starts: [0, 10], values: [2, 0] })
  t.equal(snap.get(5), 2)
  t.equal(m.get(5), 1)
})

void t.test('runs are clipped to the query, merged, with gaps as the default', async t => {
  const m = new ExtentMap()
  m.set(10, 20, 8)
  m.set(30, 40, 8)
  t.same(m.runs(15, 35), [
    { start: 15, end: 20, value: 8 }, { start: 20, end: 30, value: 0 }, { start: 30, end: 35, value: 8 }
  ])
  t.same(m.runs(12, 13), [{ start: 12, end: 13, value: 8 }])
  t.same(m.runs(5, 5), [])
  t.same(m.runs(6, 5), [])
})

void t.test('runs over a huge range cost per extent: a whole 1 TiB guest with 3 extents gives 3 runs', async t => {
  const m = new ExtentMap()
  m.set(0, TIB_PAGES, 8)
  m.set(1000, 2000, 0)
  t.same(m.runs(0, TIB_PAGES), [
    { start: 0, end: 1000, value: 8 }, { start: 1000, end: 2000, value: 0 }, { start: 2000, end: TIB_PAGES, value: 8 }
  ])
})

void t.test('findNot returns the first gfn with another value, or -1', async t => {
  const m = new ExtentMap()
  m.set(10, 20, 8)
  t.equal(m.findNot(10, 20, 8), -1)
  t.equal(m.findNot(12, 15, 8), -1)
  t.equal(m.findNot(5, 20, 8), 5)
  t.equal(m.findNot(10, 21, 8), 20)
  t.equal(m.findNot(0, 100, 0), 10)
  t.equal(m.findNot(20, 100, 0), -1)
  t.equal(m.findNot(20, 20, 8), -1, 'an empty range has nothing that differs')
})

void t.test('a whole 1 TiB guest (2^28 pages) converts as one extent, not 2^28 entries', async t => {
  const m = new ExtentMap()
  t.equal(m.set(0, TIB_PAGES, 8), true)
  t.equal(m.extentCount, 2)
  t.equal(m.get(TIB_PAGES - 1), 8)
  t.equal(m.get(TIB_PAGES), 0)
  t.equal(m.set(0, TIB_PAGES, 0), true)
  t.equal(m.extentCount, 0)
  m.set(0, 2 ** 40, 8) // the whole 2^52-byte guest physical space
  t.equal(m.extentCount, 2)
})

void t.test('snapshot round trip: toJSON is plain JSON and fromJSON restores the same map', async t => {
  const m = new ExtentMap(1)
  for (let i = 0; i < 5000; i++) m.set(i * 7, i * 7 + 3, i % 4)
  const snap = JSON.parse(JSON.stringify(m.toJSON()))
  const back = ExtentMap.fromJSON(snap)
  t.same(back.toJSON(), m.toJSON())
  t.equal(back.extentCount, m.extentCount)
  for (const g of [0, 3, 6, 7, 9, 14, 34_999, 35_000, 99_999]) t.equal(back.get(g), m.get(g), `gfn ${g}`)
  // the restored map keeps working as a tree
  back.set(0, 35_000, 1)
  t.equal(back.extentCount, 0)
})

void t.test('fromJSON canonicalises redundant boundaries and rejects malformed snapshots', async t => {
  const m = ExtentMap.fromJSON({ default: 0, starts: [0, 5, 10, 15], values: [0, 8, 8, 0] })
  t.same(m.toJSON(), { default: 0, starts: [5, 15], values: [8, 0] })
  t.throws(() => ExtentMap.fromJSON({ default: 0, starts: [5, 5], values: [1, 2] }), TypeError)
  t.throws(() => ExtentMap.fromJSON({ default: 0, starts: [-1], values: [1] }), TypeError)
  t.throws(() => ExtentMap.fromJSON({ default: 0, starts: [1], values: [1.5] }), TypeError)
  t.throws(() => ExtentMap.fromJSON({ default: 0, starts: [1, 2], values: [1] }), TypeError)
  t.throws(() => ExtentMap.fromJSON(null as never), TypeError)
  t.throws(() => ExtentMap.fromJSON({ default: 0.5, starts: [], values: [] }), RangeError)
})

void t.test('set rejects ranges and values it cannot store exactly', async t => {
  const m = new ExtentMap()
  t.throws(() => m.set(-1, 5, 1), RangeError)
  t.throws(() => m.set(5, 4, 1), RangeError)
  t.throws(() => m.set(0, 2 ** 53, 1), RangeError)
  t.throws(() => m.set(0.5, 4, 1), RangeError)
  t.throws(() => m.set(0, 4, 2 ** 40), RangeError)
  t.throws(() => new ExtentMap(Number.NaN), RangeError)
  t.equal(m.extentCount, 0)
})

void t.test('a million fragmented extents stay consistent through splits, merges and a sweeping delete', async t => {
  const m = new ExtentMap()
  const islands = 500_000
  for (let i = 0; i < islands; i++) m.set(i * 512, i * 512 + 1 + (i % 5), 8)
  t.equal(m.extentCount, 2 * islands)
  for (let i = 0; i < islands; i += 997) {
    t.equal(m.get(i * 512), 8)
    t.equal(m.get(i * 512 + 1 + (i % 5)), 0)
  }
  t.equal(m.runs(0, islands * 512).length, 2 * islands)
  // a sweeping delete over most extents, then the tree must still answer correctly
  m.set(1024, (islands - 2) * 512, 0)
  t.same(m.toJSON().starts, [0, 1, 512, 514, (islands - 2) * 512, (islands - 2) * 512 + 4, (islands - 1) * 512, (islands - 1) * 512 + 5])
  m.set(0, TIB_PAGES, 0)
  t.equal(m.extentCount, 0)
  t.equal(m.get(512), 0)
})

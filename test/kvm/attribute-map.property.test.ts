// ExtentMap and AttributeMap held against the plain per-page model KVM itself uses (one entry
// per page, docs/spec/kvm-abi.md section 3), over random sequences of edits and queries.
import t from 'tap'
import fc from 'fast-check'
import { AttributeMap } from '../../src/kvm/attribute-map.js'
import { ExtentMap } from '../../src/kvm/extent-map.js'
import type { ExtentRun } from '../../src/kvm/extent-map.js'
import { KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE, PAGE_SIZE } from '../../src/kvm/constants.js'
import { KvmError } from '../../src/kvm/types.js'

const PAGES = 400
const RUNS = 300

/** Maximal runs of the model over [start, end), pages past the model reading as `def`. */
function modelRuns (model: Uint8Array, def: number, start: number, end: number): ExtentRun[] {
  const out: ExtentRun[] = []
  for (let g = start; g < end; g++) {
    const v = g < model.length ? model[g]! : def
    const last = out[out.length - 1]
    if (last !== undefined && last.value === v) last.end = g + 1
    else out.push({ start: g, end: g + 1, value: v })
  }
  return out
}

/** Why runs() breaks its contract (sorted, non-empty, adjacent runs differ, tiling [start, end)), or null. */
function runProblem (runs: ExtentRun[], start: number, end: number): string | null {
  if (start >= end) return runs.length === 0 ? null : 'an empty query gave runs'
  if (runs[0]?.start !== start) return 'first run does not start at the query start'
  if (runs[runs.length - 1]?.end !== end) return 'last run does not end at the query end'
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i]!
    if (!(r.start < r.end)) return `run ${i} is empty`
    if (i > 0 && r.start !== runs[i - 1]!.end) return `run ${i} leaves a gap or overlaps`
    if (i > 0 && r.value === runs[i - 1]!.value) return `runs ${i - 1} and ${i} hold the same value`
  }
  return null
}

const range = fc.tuple(fc.nat(PAGES), fc.nat(PAGES)).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [number, number])
// Small ranges too, so the tree fragments into many extents (and several levels).
const shortRange = fc.tuple(fc.nat(PAGES - 1), fc.integer({ min: 1, max: 4 })).map(([a, n]) => [a, Math.min(PAGES, a + n)] as [number, number])
const value = fc.integer({ min: 0, max: 3 })

type MapOp =
  | { op: 'set', r: [number, number], v: number }
  | { op: 'get', g: number }
  | { op: 'runs', r: [number, number] }
  | { op: 'findNot', r: [number, number], v: number }
  | { op: 'roundTrip' }
  | { op: 'clear' }

const mapOp: fc.Arbitrary<MapOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), r: fc.oneof(range, shortRange, shortRange), v: value }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('get' as const), g: fc.nat(PAGES + 10) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('runs' as const), r: range }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('findNot' as const), r: range, v: value }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('roundTrip' as const) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) }
)

void t.test('ExtentMap agrees with a per-page model over random set/get/runs/findNot/snapshot sequences', async t => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.array(mapOp, { maxLength: 400 }), (def, ops) => {
    let m = new ExtentMap(def)
    const model = new Uint8Array(PAGES).fill(def)
    for (const o of ops) {
      switch (o.op) {
        case 'set': {
          const [s, e] = o.r
          const changes = model.subarray(s, e).some(x => x !== o.v)
          model.fill(o.v, s, e)
          if (m.set(s, e, o.v) !== changes) return false
          break
        }
        case 'get':
          if (m.get(o.g) !== (o.g < PAGES ? model[o.g] : def)) return false
          break
        case 'runs': {
          const got = m.runs(o.r[0], o.r[1])
          if (JSON.stringify(got) !== JSON.stringify(modelRuns(model, def, o.r[0], o.r[1]))) return false
          break
        }
        case 'findNot': {
          let want = -1
          for (let g = o.r[0]; g < o.r[1]; g++) if (model[g] !== o.v) { want = g; break }
          if (m.findNot(o.r[0], o.r[1], o.v) !== want) return false
          break
        }
        case 'roundTrip':
          m = ExtentMap.fromJSON(JSON.parse(JSON.stringify(m.toJSON())))
          break
        case 'clear':
          m.clear()
          model.fill(def)
          break
      }
    }
    // The whole map, and what it costs: one stored boundary per change of value.
    if (JSON.stringify(m.runs(0, PAGES)) !== JSON.stringify(modelRuns(model, def, 0, PAGES))) return false
    return m.extentCount === modelRuns(model, def, 0, PAGES + 1).length - (model[0] === def ? 1 : 0)
  }), { numRuns: RUNS })
  t.pass(`held over ${RUNS} random sequences`)
})

// Deep enough for a multi-level tree (nodes hold 32 keys): splits, merges, borrowing and
// sweeping deletes across leaves and branches all happen here.
const BIG = 6000
const bigOp = fc.oneof(
  { weight: 20, arbitrary: fc.tuple(fc.nat(BIG - 1), fc.integer({ min: 1, max: 3 }), value).map(([s, n, v]) => ({ s, e: Math.min(BIG, s + n), v })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(BIG), fc.nat(BIG), value).map(([a, b, v]) => ({ s: Math.min(a, b), e: Math.max(a, b), v })) }
)

void t.test('ExtentMap agrees with a per-page model when fragmented into a multi-level tree', async t => {
  fc.assert(fc.property(fc.array(bigOp, { minLength: 1000, maxLength: 3000, size: 'max' }), fc.array(fc.nat(BIG - 1), { minLength: 50, maxLength: 50 }), (ops, probes) => {
    const m = new ExtentMap()
    const model = new Uint8Array(BIG)
    for (const [i, o] of ops.entries()) {
      const changes = model.subarray(o.s, o.e).some(x => x !== o.v)
      model.fill(o.v, o.s, o.e)
      if (m.set(o.s, o.e, o.v) !== changes) return false
      if (i % 50 === 0) for (const g of probes) if (m.get(g) !== model[g]) return false
    }
    const want = modelRuns(model, 0, 0, BIG)
    if (JSON.stringify(m.runs(0, BIG)) !== JSON.stringify(want)) return false
    if (JSON.stringify(ExtentMap.fromJSON(m.toJSON()).runs(0, BIG)) !== JSON.stringify(want)) return false
    return m.extentCount === modelRuns(model, 0, 0, BIG + 1).length - (model[0] === 0 ? 1 : 0)
  }), { numRuns: 40 })
  t.pass('held over 40 long random sequences')
})

void t.test('ExtentMap runs are sorted, non-empty, differ when adjacent and tile the query range', async t => {
  let problem: string | null = null
  fc.assert(fc.property(fc.array(fc.record({ r: fc.oneof(range, shortRange), v: value }), { maxLength: 200 }), range, (sets, q) => {
    const m = new ExtentMap()
    for (const s of sets) m.set(s.r[0], s.r[1], s.v)
    problem = runProblem(m.runs(q[0], q[1]), q[0], q[1])
    return problem === null
  }), { numRuns: RUNS })
  t.equal(problem, null)
})

type AttrOp =
  | { op: 'set', address: number, size: number, attributes: number, flags: number }
  | { op: 'extents', r: [number, number] }

// Mostly valid calls, with every kind of invalid field mixed in.
const attrOp: fc.Arbitrary<AttrOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), r: fc.oneof(range, shortRange), attributes: fc.constantFrom(0, PRIVATE) })
    .map(({ r, attributes }) => ({ op: 'set' as const, address: r[0] * PAGE_SIZE, size: (r[1] - r[0]) * PAGE_SIZE, attributes, flags: 0 })) },
  { weight: 3, arbitrary: fc.record({
    op: fc.constant('set' as const),
    address: fc.oneof(fc.nat(PAGES).map(p => p * PAGE_SIZE), fc.nat(PAGES * PAGE_SIZE), fc.constantFrom(-PAGE_SIZE, 0.5, 2 ** 53, Number.NaN)),
    size: fc.oneof(fc.nat(8).map(p => p * PAGE_SIZE), fc.nat(8 * PAGE_SIZE), fc.constantFrom(-PAGE_SIZE, 2 ** 52, 2 ** 64)),
    attributes: fc.constantFrom(0, PRIVATE, 1, PRIVATE | 2, 2 ** 33, -PRIVATE),
    flags: fc.constantFrom(0, 0, 0, 1, 2 ** 40)
  }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('extents' as const), r: range }) }
)

/** What KVM accepts, decided independently of the implementation. */
function modelAccepts (o: { address: number, size: number, attributes: number, flags: number }, supported: number): boolean {
  const u64 = (v: number): boolean => Number.isSafeInteger(v) && v >= 0
  const attributesOk = o.attributes === 0 || (supported === PRIVATE && o.attributes === PRIVATE)
  return o.flags === 0 && attributesOk && u64(o.address) && u64(o.size) && o.size > 0 &&
    o.address + o.size <= 2 ** 52 && o.address % PAGE_SIZE === 0 && o.size % PAGE_SIZE === 0
}

void t.test('AttributeMap agrees with a per-page model; invalid calls throw EINVAL and change nothing', async t => {
  fc.assert(fc.property(fc.constantFrom(0, PRIVATE), fc.array(attrOp, { maxLength: 200 }), (supported, ops) => {
    const m = new AttributeMap(supported)
    const model = new Uint8Array(PAGES)
    for (const o of ops) {
      if (o.op === 'extents') {
        const got = m.extents(o.r[0] * PAGE_SIZE, (o.r[1] - o.r[0]) * PAGE_SIZE)
        const want = modelRuns(model, 0, o.r[0], o.r[1]).map(r => ({ gpa: r.start * PAGE_SIZE, size: (r.end - r.start) * PAGE_SIZE, attributes: r.value }))
        if (JSON.stringify(got) !== JSON.stringify(want)) return false
        continue
      }
      const ok = modelAccepts(o, supported)
      const before = JSON.stringify(m.toJSON())
      try {
        m.set(o)
      } catch (err) {
        if (ok || !(err instanceof KvmError) || err.code !== 'INVALID_ARGUMENT' || err.errno !== 'EINVAL') return false
        if (JSON.stringify(m.toJSON()) !== before) return false // all-or-nothing
        continue
      }
      if (!ok) return false
      const s = o.address / PAGE_SIZE
      const e = o.size / PAGE_SIZE + s
      model.fill(o.attributes, Math.min(s, PAGES), Math.min(e, PAGES))
      // Pages past the model only come from valid calls beyond it: undo them on both sides.
      if (e > PAGES) m.setRange(PAGES, e, 0)
    }
    for (let g = 0; g < PAGES; g++) if (m.isPrivate(g) !== (model[g] === PRIVATE)) return false
    return true
  }), { numRuns: RUNS })
  t.pass(`held over ${RUNS} random sequences`)
})

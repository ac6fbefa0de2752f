// docs/spec/kvm-abi.md section 4 as a property: the fault path against a plain per-page model on tiny
// guests (a few slots over 64 pages, random attribute / poison / guest_memfd layouts, random
// accesses on every VM type): the same exit, or no exit, and the same population.
import t from 'tap'
import fc from 'fast-check'
import { AttributeMap } from '../../src/kvm/attribute-map.js'
import { Backing } from '../../src/kvm/backing.js'
import { ACCESS_MEMORY_FAULT, ACCESS_OK, FaultPath } from '../../src/kvm/fault-path.js'
import { Memslots } from '../../src/kvm/memslots.js'
import type { MemslotConfig, VmType } from '../../src/kvm/types.js'

const PAGES = 64
const PAGE = 4096
const PRIVATE = 8

interface Layout {
  type: VmType
  gpaw: 48 | 52
  slots: MemslotConfig[]
  attrs: boolean[]
  poison: boolean[]
}

const layout = fc.record({
  type: fc.constantFrom<VmType>('default', 'sw_protected', 'snp', 'tdx'),
  gpaw: fc.constantFrom<48 | 52>(48, 52),
  // Cut points split [0, PAGES) into pieces; each piece is a slot (with or without gmem) or a hole.
  cuts: fc.uniqueArray(fc.integer({ min: 1, max: PAGES - 1 }), { maxLength: 6 }),
  kinds: fc.array(fc.constantFrom('gmem', 'plain', 'hole'), { minLength: 7, maxLength: 7 }),
  attrs: fc.array(fc.boolean(), { minLength: PAGES + 4, maxLength: PAGES + 4 }),
  poison: fc.array(fc.boolean(), { minLength: PAGES, maxLength: PAGES })
}).map(({ type, gpaw, cuts, kinds, attrs, poison }): Layout => {
  const bounds = [0, ...[...cuts].sort((a, b) => a - b), PAGES]
  const slots: MemslotConfig[] = []
  for (let i = 0; i + 1 < bounds.length; i++) {
    const kind = kinds[i]
    if (kind === 'hole') continue
    slots.push({ slot: i, gpa: bounds[i]! * PAGE, size: (bounds[i + 1]! - bounds[i]!) * PAGE, guest_memfd: kind === 'gmem' && type !== 'default' })
  }
  return { type, gpaw, slots, attrs: attrs.map(a => a && type !== 'default'), poison }
})

const access = fc.record({
  gfnOffset: fc.integer({ min: 0, max: PAGES + 2 }),
  offset: fc.integer({ min: 0, max: PAGE - 1 }),
  size: fc.constantFrom(1, 2, 8, 16, 4096, 9000),
  cbit: fc.boolean(),
  shared: fc.boolean()
})

type Outcome = { kind: 'ok' } | { kind: 'mf', errno: string, flags: number, gpa: number } | { kind: 'mmio', gpa: number, len: number }

function model (l: Layout, rawGpa: number, size: number, cbit: boolean): Outcome {
  const bit = 2 ** (l.gpaw - 1)
  let gpa = rawGpa
  let want: boolean
  if (l.type === 'tdx') { want = !(gpa >= bit); if (!want) gpa -= bit } else want = l.type === 'snp' ? cbit : false
  const slotOf = (gfn: number): MemslotConfig | undefined => l.slots.find(s => gfn * PAGE >= s.gpa && gfn * PAGE < s.gpa + s.size)
  for (let gfn = Math.floor(gpa / PAGE); gfn <= Math.floor((gpa + size - 1) / PAGE); gfn++) {
    const attr = l.attrs[gfn] ?? false
    const priv = l.type === 'sw_protected' ? attr : want
    const slot = slotOf(gfn)
    if ((l.type === 'snp' || l.type === 'tdx') && priv !== attr) return { kind: 'mf', errno: 'EFAULT', flags: priv ? 8 : 0, gpa: gfn * PAGE }
    if (slot === undefined) {
      if (priv) return { kind: 'mf', errno: 'EFAULT', flags: 8, gpa: gfn * PAGE }
      const at = Math.max(gpa, gfn * PAGE)
      return { kind: 'mmio', gpa: at, len: Math.min(gpa + size - at, 8) }
    }
    if (priv && !slot.guest_memfd) return { kind: 'mf', errno: 'EFAULT', flags: 8, gpa: gfn * PAGE }
    if (priv && l.poison[gfn] === true && slot.guest_memfd) return { kind: 'mf', errno: 'EHWPOISON', flags: 8, gpa: gfn * PAGE }
  }
  return { kind: 'ok' }
}

void t.test('§4 the fault path matches a per-page model: same exit or no exit, across types and layouts', async t => {
  fc.assert(fc.property(layout, fc.array(access, { minLength: 1, maxLength: 20 }), (l, accesses) => {
    const attrs = new AttributeMap(l.type === 'default' ? 0 : PRIVATE)
    l.attrs.forEach((p, gfn) => { if (p) attrs.setRange(gfn, gfn + 1, PRIVATE) })
    const backing = new Backing()
    const memslots = new Memslots(l.slots)
    l.poison.forEach((p, gfn) => { const s = memslots.find(gfn); if (p && s?.guestMemfd === true) backing.poison(gfn) })
    const fp = new FaultPath(l.type, l.gpaw, memslots, attrs, backing)
    for (const a of accesses) {
      let gpa = a.gfnOffset * PAGE + a.offset
      if (l.type === 'tdx' && a.shared) gpa += 2 ** (l.gpaw - 1)
      const expected = model(l, gpa, a.size, a.cbit)
      const r = fp.access(gpa, a.size, a.cbit)
      const got: Outcome = r === ACCESS_OK
        ? { kind: 'ok' }
        : r === ACCESS_MEMORY_FAULT
          ? { kind: 'mf', errno: fp.info.errno, flags: fp.info.flags, gpa: fp.info.gpa }
          : { kind: 'mmio', gpa: fp.info.mmioGpa, len: fp.info.mmioLen }
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(`access ${JSON.stringify(a)} on ${JSON.stringify(l)}: got ${JSON.stringify(got)}, model ${JSON.stringify(expected)}`)
      }
      if (r === ACCESS_OK) {
        // Every page of a completed access is populated in the backing it used.
        const base = l.type === 'tdx' && a.shared ? gpa - 2 ** (l.gpaw - 1) : gpa
        for (let gfn = Math.floor(base / PAGE); gfn <= Math.floor((base + a.size - 1) / PAGE); gfn++) {
          const priv = l.type === 'sw_protected' ? l.attrs[gfn] === true : l.type === 'tdx' ? !a.shared : l.type === 'snp' ? a.cbit : false
          if ((priv ? backing.private : backing.shared).get(gfn) !== 1) throw new Error(`gfn ${gfn} not populated`)
        }
      }
    }
  }), { numRuns: 400 })
  t.pass('400 layouts')
})

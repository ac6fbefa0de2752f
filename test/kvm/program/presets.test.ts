import t from 'tap'
import { readFile } from 'node:fs/promises'
import { PRESETS, getPreset } from '../../../src/kvm/program/presets/index.js'
import type { Preset } from '../../../src/kvm/program/presets/index.js'
import { PROGRAM_DEFAULTS } from '../../../src/kvm/program/validate.js'
import type { Instruction } from '../../../src/kvm/program/types.js'
import type { MemslotConfig } from '../../../src/kvm/types.js'

const MiB = 2 ** 20

/** Steps one vCPU takes at most (a sweep touch, a random step, an op), statically. */
const steps = (program: Instruction[]): number => program.reduce((sum, i) => {
  switch (i.op) {
    case 'repeat': return sum + (i.forever === true ? Infinity : (i.count ?? 0) * steps(i.body))
    case 'sweep': return sum + Math.ceil(i.size / (i.stride ?? PROGRAM_DEFAULTS.stride))
    case 'random': return sum + i.count
    default: return sum + 1
  }
}, 0)

const flat = (program: Instruction[], path = 'program'): Array<[string, Instruction]> =>
  program.flatMap((i, n) => {
    const p = `${path}[${n}]`
    return i.op === 'repeat' ? [[p, i] as [string, Instruction], ...flat(i.body, `${p}.body`)] : [[p, i]]
  })

const slotsOf = (p: Preset): MemslotConfig[] =>
  p.memslots ?? [{ slot: 0, gpa: 0, size: p.memory_mib * MiB, guest_memfd: true }]

/** [start, end) of what vCPU n touches with op i, or null for ops with no gpa. */
const extent = (i: Instruction, n: number): [number, number] | null => {
  if (!('gpa' in i)) return null
  const base = i.gpa + n * (i.vcpu_stride ?? 0)
  switch (i.op) {
    case 'read': case 'write': return [base, base + (i.size ?? PROGRAM_DEFAULTS.size)]
    case 'sweep': case 'random': return [base, base + i.size]
    case 'map_gpa': return [base, base + i.npages * 4096]
    case 'mmio_read': case 'mmio_write': return [base, base + i.len]
    case 'pv_access': return [base, base + PROGRAM_DEFAULTS.pv_access_size]
  }
}

/** Accesses that miss every memslot on purpose. */
const OUTSIDE_ON_PURPOSE = new Set(['buggy-guest program[2]'])

void t.test('the required presets exist, with unique names, and getPreset finds each', async t => {
  const names = PRESETS.map(p => p.name)
  t.equal(new Set(names).size, names.length)
  for (const name of ['tdx-boot', 'snp-boot', 'implicit-conversions', 'buggy-guest', 'hwpoison', 'no-guest-memfd-loop', 'conversion-storm', 'io-heavy']) {
    t.equal(getPreset(name)?.name, name)
  }
  t.equal(getPreset('nope'), undefined)
  t.equal(getPreset('toString'), undefined)
})

void t.test('every preset is described and plain JSON data', async t => {
  for (const p of PRESETS) {
    t.ok(p.description.length > 20 && p.exits.length > 10, p.name)
    t.ok(p.types.length > 0, p.name)
    t.same(JSON.parse(JSON.stringify(p)), p, `${p.name} survives JSON`)
  }
})

void t.test('every preset is bounded: no forever, and a finite number of steps per vCPU', async t => {
  for (const p of PRESETS) {
    const n = steps(p.program)
    t.ok(Number.isFinite(n) && n > 0 && n <= 100_000, `${p.name}: ${n} steps`)
  }
  t.equal(steps([{ op: 'repeat', forever: true, body: [{ op: 'hlt' }] }]), Infinity, 'the counter sees forever')
})

void t.test('memslots, when given, add up to memory_mib', async t => {
  for (const p of PRESETS) {
    if (p.memslots === undefined) continue
    t.equal(p.memslots.reduce((s, m) => s + m.size, 0), p.memory_mib * MiB, p.name)
  }
})

void t.test('every access lands in a memslot (MMIO outside), for vCPU 0 and vCPU 255', async t => {
  for (const p of PRESETS) {
    const slots = slotsOf(p)
    for (const [path, op] of flat(p.program)) {
      for (const n of [0, 255]) {
        const e = extent(op, n)
        if (e === null) continue
        const inside = slots.some(s => e[0] >= s.gpa && e[1] <= s.gpa + s.size)
        const outside = slots.every(s => e[1] <= s.gpa || e[0] >= s.gpa + s.size)
        const wantOutside = op.op.startsWith('mmio') || OUTSIDE_ON_PURPOSE.has(`${p.name} ${path}`)
        t.ok(wantOutside ? outside : inside, `${p.name} ${path} vCPU ${n}: [${e[0].toString(16)}, ${e[1].toString(16)})`)
      }
    }
  }
})

void t.test('what a vCPU converts or accesses shared is its own: the stride covers the range', async t => {
  for (const p of PRESETS) {
    for (const [path, op] of flat(p.program)) {
      const shared = (op.op === 'read' || op.op === 'write' || op.op === 'sweep') && op.private === false
      if (op.op !== 'map_gpa' && op.op !== 'random' && !shared) continue
      const e = extent(op, 0)!
      const stride = 'vcpu_stride' in op ? op.vcpu_stride ?? 0 : 0
      t.ok(stride >= e[1] - e[0] && stride >= 4096, `${p.name} ${path}: ${e[1] - e[0]} bytes, stride ${stride}`)
    }
  }
})

void t.test('docs/presets.md shows each preset\'s program as it is', async t => {
  const doc = await readFile(new URL('../../../docs/presets.md', import.meta.url), 'utf8')
  for (const p of PRESETS) {
    const at = doc.indexOf(`## \`${p.name}\``)
    t.ok(at >= 0, `${p.name} has a section`)
    const block = /```json\n([\s\S]*?)\n```/.exec(doc.slice(at))
    t.same(JSON.parse(block?.[1] ?? 'null'), p.program, `${p.name}: the documented program is the preset's`)
  }
})

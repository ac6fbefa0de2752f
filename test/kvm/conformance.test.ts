// Runs every row of test/kvm/conformance.json through the core (Vm.create, run, decide) and
// compares the exits with the kvm_run fields the row says KVM produces (see the file's $comment).
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { Test } from 'tap'
import { Vm } from '../../src/kvm/index.js'
import type { Decision, ExitRecord, MemoryAttributes, VmConfig } from '../../src/kvm/index.js'
import type { Program } from '../../src/kvm/program/types.js'
import { config } from './helpers/vm.js'

interface Step {
  do: 'run' | 'decide' | 'set_memory_attributes' | 'poison' | 'interrupt'
  expect?: Record<string, unknown>
  decision?: Decision
  arg?: MemoryAttributes
  gpa?: number
}
interface Row {
  id: string
  kernel: string
  vm: Partial<VmConfig> & { type: VmConfig['type'] }
  program: Program
  steps: Step[]
  create?: { ok: true } | { errno: string }
  guest?: { ret: number, r11?: number }
  attributes?: { gpa: number, size: number, extents: unknown[] }
}

const PAYLOADS = ['memory_fault', 'hypercall', 'io', 'mmio', 'system_event'] as const

/** '0x...' strings are numbers written in hex, for readability. */
function numbers (v: unknown): unknown {
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return Number(v)
  if (Array.isArray(v)) return v.map(numbers)
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, numbers(x)]))
  return v
}

const table = JSON.parse(readFileSync(new URL('./conformance.json', import.meta.url), 'utf8')) as { rows: Row[] }
const rows = table.rows.map(r => ({ ...(numbers({ ...r, program: null }) as Row), program: r.program }))

function checkExit (t: Test, exit: ExitRecord, want: Record<string, unknown>, at: string): void {
  t.equal(exit.reason, want.reason, `${at}: reason`)
  t.equal(exit.exit_reason, want.exit_reason, `${at}: exit_reason`)
  t.same(exit.run, want.run, `${at}: KVM_RUN ret/errno`)
  // Exactly the row's payloads: one the row does not list must not be there.
  for (const p of PAYLOADS) t.same(exit[p], want[p], `${at}: ${p}`)
}

function runStep (t: Test, vm: Vm, s: Step, at: string): void {
  switch (s.do) {
    case 'run': {
      const r = vm.run(0, 1_000_000)
      if (s.expect?.halted === true) { t.equal(r.kind, 'halted', `${at}: the program ends`); return }
      if (r.kind !== 'exit') { t.fail(`${at}: expected an exit, got ${r.kind}`); return }
      checkExit(t, r.exit, s.expect ?? {}, at)
      return
    }
    case 'decide': {
      const pending = vm.pendingExits()[0]
      if (pending === undefined) { t.fail(`${at}: no pending exit`); return }
      const d = s.decision as Decision
      if (s.expect?.refused !== undefined) {
        const want = s.expect.errno === undefined
          ? { code: String(s.expect.refused) }
          : { code: String(s.expect.refused), errno: String(s.expect.errno) }
        t.throws(() => vm.decide(0, pending.exit, d), want, `${at}: refused`)
        t.same(vm.pendingExits().map(e => e.exit), [pending.exit], `${at}: the exit stays pending`)
      } else {
        vm.decide(0, pending.exit, d)
        t.pass(`${at}: accepted`)
      }
      return
    }
    case 'set_memory_attributes':
      if (s.expect?.errno !== undefined) {
        t.throws(() => vm.setMemoryAttributes(s.arg as MemoryAttributes), { code: 'INVALID_ARGUMENT', errno: s.expect.errno }, `${at}: ioctl fails`)
      } else {
        vm.setMemoryAttributes(s.arg as MemoryAttributes)
        t.pass(`${at}: ioctl succeeds`)
      }
      return
    case 'poison': vm.poison(s.gpa as number); return
    case 'interrupt': vm.injectInterrupt(0)
  }
}

t.ok(rows.length >= 40, `${rows.length} rows`)
t.equal(new Set(rows.map(r => r.id)).size, rows.length, 'row ids are unique')

for (const row of rows) {
  void t.test(`${row.id} (${row.kernel})`, async t => {
    t.match(row.kernel, /\S+\.[ch] \w+/, 'the row cites a kernel file and function')
    const cfg = config({ ...row.vm, program: row.program })
    if (row.create !== undefined && 'errno' in row.create) {
      t.throws(() => Vm.create(cfg), { code: 'INVALID_CONFIG', errno: row.create.errno })
      return
    }
    const vm = Vm.create(cfg)
    row.steps.forEach((s, i) => runStep(t, vm, s, `step ${i} (${s.do})`))
    if (row.guest !== undefined) t.same(vm.lastHypercall(0), row.guest, 'what the guest saw')
    if (row.attributes !== undefined) {
      t.same(vm.memoryAttributes(row.attributes.gpa, row.attributes.size), row.attributes.extents, 'attributes after')
    }
  })
}

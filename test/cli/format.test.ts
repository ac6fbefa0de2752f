// What the CLI prints: exit descriptions, watch lines, tables, the tally and the memory bar.
import t from 'tap'
import {
  clockTime, describeExit, formatBytes, formatDecidedLine, formatExitLine, formatStateLine,
  formatTable, formatVm, formatVmList, painter, shortReason, wantsColour
} from '../../src/cli/format.js'
import { formatMemoryMap, memoryBar, memoryTotals, slotSpan } from '../../src/cli/memory-bar.js'
import { percentile, Tally } from '../../src/cli/tally.js'
import { formatJournalLine } from '../../src/cli/vm-commands.js'
import type { VmInfo } from '../../src/client/types.js'
import { EXITS } from './exits.js'

const plain = painter(false)
const at = new Date(2025, 0, 1, 9, 5, 7, 42)

void t.test('every exit type is described by its KVM name and the fields that matter', async (t) => {
  t.equal(describeExit(EXITS.faultPrivate), 'KVM_EXIT_MEMORY_FAULT EFAULT gpa=0x1000 size=0x1000 private')
  t.equal(describeExit(EXITS.poisonShared), 'KVM_EXIT_MEMORY_FAULT EHWPOISON gpa=0x4000 size=0x1000 shared')
  t.equal(describeExit(EXITS.mapToShared), 'KVM_EXIT_HYPERCALL MAP_GPA_RANGE gpa=0x40000000 npages=512 to shared')
  t.equal(describeExit(EXITS.mapToPrivate), 'KVM_EXIT_HYPERCALL MAP_GPA_RANGE gpa=0x40000000 npages=512 to private')
  t.equal(describeExit(EXITS.otherHypercall), 'KVM_EXIT_HYPERCALL nr=99')
  t.equal(describeExit(EXITS.ioOut), 'KVM_EXIT_IO out port=0x3f8 size=2 count=1 data=[0x41]')
  t.equal(describeExit(EXITS.ioIn), 'KVM_EXIT_IO in port=0x60 size=1 count=2')
  t.equal(describeExit(EXITS.mmioRead), 'KVM_EXIT_MMIO read phys_addr=0xfee00000 len=4')
  t.equal(describeExit(EXITS.mmioWrite), 'KVM_EXIT_MMIO write phys_addr=0xfee00000 len=2 data=[0x1,0x2]')
  t.equal(describeExit(EXITS.hlt), 'KVM_EXIT_HLT')
  t.equal(describeExit(EXITS.sysTdxFatal), 'KVM_EXIT_SYSTEM_EVENT TDX_FATAL')
  t.equal(describeExit({ ...EXITS.sysCrash, system_event: { type: 42, ndata: 0, data: [] } }), 'KVM_EXIT_SYSTEM_EVENT type=42')
  t.equal(describeExit(EXITS.staleFault), 'KVM_EXIT_IO out port=0x80 size=1 count=1 data=[0x1] (stale memory_fault ignored)')
})

void t.test('watch lines: exit, decided and state, plain and coloured', async (t) => {
  t.equal(clockTime(at), '09:05:07.042')
  t.equal(formatExitLine(EXITS.hlt, at, plain), '09:05:07.042 vm1 seq 1 vcpu 0 exit #12 KVM_EXIT_HLT')
  t.equal(formatDecidedLine({ type: 'decided', vm: 'vm1', exit: 3, seq: 9, action: 'convert', by: 'rule' }, at, plain),
    '09:05:07.042 vm1 seq 9 decided #3 convert by rule')
  t.equal(formatStateLine({ type: 'state', vm: 'vm1', seq: 4, state: 'killed', reason: 'decision' }, at, plain),
    '09:05:07.042 vm1 seq 4 ==> KILLED (decision)')
  t.equal(formatStateLine({ type: 'state', vm: 'vm1', seq: 4, state: 'running', reason: '' }, at, plain), '09:05:07.042 vm1 seq 4 ==> RUNNING')
  const colour = formatStateLine({ type: 'state', vm: 'vm1', seq: 4, state: 'killed', reason: 'x' }, at, painter(true))
  t.match(colour, '\x1b[1;31m==> KILLED (x)\x1b[0m', 'a state change is bold and coloured')
  t.match(formatExitLine(EXITS.faultPrivate, at, painter(true)), '\x1b[33mKVM_EXIT_MEMORY_FAULT')
  t.equal(painter(true)('x'), 'x', 'no style, no escape')
})

void t.test('colour only on a terminal, and never with NO_COLOR or TERM=dumb', async (t) => {
  t.ok(wantsColour(true, {}))
  t.notOk(wantsColour(false, {}))
  t.notOk(wantsColour(undefined, {}))
  t.notOk(wantsColour(true, { NO_COLOR: '1' }))
  t.ok(wantsColour(true, { NO_COLOR: '' }))
  t.notOk(wantsColour(true, { TERM: 'dumb' }))
})

void t.test('tables, VM views, bytes and journal lines', async (t) => {
  t.equal(formatTable([['A', 'BB'], ['ccc', 'd']]), 'A    BB\nccc  d')
  const vm: VmInfo = {
    id: 'vm_1', name: null, type: 'tdx', state: 'running', vcpus: 2,
    memslots: [{ slot: 0, gpa: 0, size: 2 ** 31, guest_memfd: true }],
    state_reason: 'start', initial_attributes: 'private', seed: 1, kvm_abi: 'next', preset: null, program_length: 0, seq: 3,
    created_at: '2026-01-01T00:00:00.000Z',
    policy: { rules: [{ reason: 'KVM_EXIT_IO', action: 'resume' }], decision_timeout_ms: 500, on_timeout: 'kill' },
    counters: { exits: 3, pending: 0, decisions: 0, by_rule: 0, by_timeout: 0, accesses: 0, hypercall_errors: 0, machine_checks: 0, interrupts: 0 }
  }
  t.equal(formatVmList([]), 'no VMs')
  t.equal(formatVmList([vm]), 'ID    NAME  TYPE  STATE    VCPUS\nvm_1  -     tdx   running  2')
  t.equal(formatVm(vm), [
    'id        vm_1', 'name      -', 'type      tdx', 'state     running', 'vcpus     2',
    'memslot   0: 0x0..0x80000000 (2 GiB) guest_memfd',
    'policy    1 rule, decision timeout 500 ms',
    'counters  exits=3 pending=0 decisions=0 by_rule=0 by_timeout=0 accesses=0 hypercall_errors=0 machine_checks=0 interrupts=0'
  ].join('\n'))
  t.match(formatVm({ ...vm, policy: { decision_timeout_ms: null, on_timeout: 'kill', rules: [] }, memslots: [] }), /policy {4}0 rules, decision timeout none\n/)
  t.same([0, 4096, 1536, 3 * 2 ** 30].map(formatBytes), ['0 B', '4 KiB', '1536 B', '3 GiB'])
  t.equal(shortReason('KVM_EXIT_MEMORY_FAULT'), 'MEMORY_FAULT')
  t.equal(formatJournalLine({ ...EXITS.hlt, decision: null }), '#12 seq 1 vcpu 0 KVM_EXIT_HLT -> pending')
  t.equal(formatJournalLine({ ...EXITS.hlt, decision: { action: 'resume', by: 'rest', seq: 2 } }), '#12 seq 1 vcpu 0 KVM_EXIT_HLT -> resume by rest')
})

void t.test('the tally counts exits by reason, decisions by action and by reason, and the last state', async (t) => {
  const tally = new Tally()
  t.equal(tally.line(), 'exits 0 | decided 0 | conversions 0')
  tally.exit(EXITS.faultPrivate)
  tally.exit(EXITS.mapToShared)
  tally.exit(EXITS.ioOut)
  tally.decidedEvent({ vm: 'vm1', exit: 1, action: 'convert' })
  tally.decidedEvent({ vm: 'vm1', exit: 5, action: 'convert' })
  tally.decidedEvent({ vm: 'vm1', exit: 8, action: 'resume' })
  tally.decidedEvent({ vm: 'vm1', exit: 99, action: 'kill' })
  tally.stateEvent({ state: 'killed' })
  t.equal(tally.line(), 'exits 3 (MEMORY_FAULT 1, HYPERCALL 1, IO 1) | decided 4 (convert 2, resume 1, kill 1) | conversions 2 | killed')
  t.same([...tally.decisionsByReason], [['MEMORY_FAULT convert', 1], ['HYPERCALL convert', 1], ['IO resume', 1]])
})

void t.test('percentiles by nearest rank', async (t) => {
  t.ok(Number.isNaN(percentile([], 50)))
  t.equal(percentile([5], 99), 5)
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i)
  t.equal(percentile(hundred, 50), 50)
  t.equal(percentile(hundred, 99), 99)
  t.equal(percentile(hundred, 100), 100)
  t.equal(percentile(hundred, 0), 1)
})

void t.test('the memory bar shows private, shared and mixed cells over a range', async (t) => {
  const MiB = 2 ** 20
  const extents = [
    { gpa: 0, size: 4 * MiB, attributes: 8 },
    { gpa: 4 * MiB, size: 2 * MiB, attributes: 0 },
    { gpa: 6 * MiB, size: 2 * MiB + 4096, attributes: 8 }
  ]
  const range = { gpa: 0, size: 8 * MiB }
  t.equal(memoryBar(extents, range, 8), '████░░██')
  t.equal(memoryBar(extents, range, 4), '██░█')
  t.equal(memoryBar(extents, range, 3), '█▒▒', 'cells that straddle a boundary are mixed')
  t.equal(memoryBar([], { gpa: 0, size: 2 }, 4), '░░░░', 'cells smaller than a byte, and gaps, read as shared')
  t.same(memoryTotals(extents, range), { private: 6 * MiB, shared: 2 * MiB, extents: 3 })
  // A 1 TiB guest costs what its extents cost, not its pages.
  const TiB = 2 ** 40
  t.equal(memoryBar([{ gpa: 0, size: TiB, attributes: 8 }, { gpa: TiB / 2, size: 4096, attributes: 0 }].sort((a, b) => a.gpa - b.gpa), { gpa: 0, size: TiB }, 4), '████',
    'overlapping input is read in gpa order')
  t.match(formatMemoryMap(extents, range, plain, 16).split('\n')[1], /^ {2}0x0 {5}0x800000$/, 'the axis spans the bar')
  const map = formatMemoryMap(extents, range, plain, 8)
  t.equal(map, [
    '  ████░░██',
    '  0x0 0x800000',
    '  █ private 6 MiB   ░ shared 2 MiB   ▒ both   (3 extents)'
  ].join('\n'))
  t.same(slotSpan([{ gpa: 4096, size: 4096 }, { gpa: 0, size: 1024 }]), { gpa: 0, size: 8192 })
  t.equal(slotSpan([]), undefined)
})

// Grading a conformance run, without a server: which exits a step applies to, which decisions
// it accepts, and the verdict for every way a run can go wrong.
import t from 'tap'
import { CASES } from '../../src/cli/check/cases.js'
import type { CheckCase } from '../../src/cli/check/cases.js'
import { decisionAccepted, describeDecision, exitMatches, grade, KIT_REASON } from '../../src/cli/check/grade.js'
import { selectCases } from '../../src/cli/check/command.js'
import type { JournalExit, RecordedDecision } from '../../src/client/types.js'
import { EXITS } from './exits.js'
import type { ExitName } from './exits.js'

const byName = (name: string): CheckCase => {
  const c = CASES.find((x) => x.name === name)
  if (c === undefined) throw new Error(name)
  return c
}

let nextExit = 1
/** An exit of the journal: one of EXITS with fields over it, decided (or not). */
function journal (name: ExitName, over: Partial<JournalExit>, decision: Partial<RecordedDecision> | null): JournalExit {
  const { type: _t, pending: _p, ...fields } = EXITS[name]
  const id = nextExit++
  return {
    ...fields,
    exit: id,
    seq: id * 2,
    ...over,
    decision: decision === null ? null : { action: 'resume', by: 'controller', seq: id * 2 + 1, ...decision }
  } as JournalExit
}

const fault = (gpa: number, flags: number, errno: 'EFAULT' | 'EHWPOISON' = 'EFAULT'): Partial<JournalExit> =>
  ({ run: { ret: -1, errno }, memory_fault: { flags, gpa, size: 4096 } })
const MiB = 2 ** 20

void t.test('every case is well formed: named once, with steps, types and a rule for each step', async (t) => {
  t.equal(new Set(CASES.map((c) => c.name)).size, CASES.length)
  for (const c of CASES) {
    t.ok(c.types.length > 0 && c.steps.length > 0 && c.maxExits > c.steps.length, c.name)
    for (const s of c.steps) {
      t.ok(s.accept.length > 0, `${c.name}: a step accepts something`)
      t.match(s.why, /[a-z_]+ \(|\([a-z_]+|[a-z]+_[a-z_]+/, `${c.name}: the rule names a kernel function`)
    }
  }
  t.same(selectCases(CASES, []).length, CASES.length)
  t.same(selectCases(CASES, ['hwpoison']).map((c) => c.name), ['hwpoison'])
  t.throws(() => selectCases(CASES, ['nope']), /no such case: nope \(cases: implicit-conversion/)
})

void t.test('exit matching reads exits as KVM says they must be read', async (t) => {
  const f = journal('faultPrivate', fault(MiB, 8), null)
  t.ok(exitMatches({ reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EFAULT', private: true, gpa: MiB }, f))
  t.notOk(exitMatches({ reason: 'KVM_EXIT_MEMORY_FAULT', private: false }, f), 'direction')
  t.notOk(exitMatches({ reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EHWPOISON' }, f), 'errno')
  t.notOk(exitMatches({ reason: 'KVM_EXIT_MEMORY_FAULT', gpa: 2 * MiB }, f), 'gpa')
  t.notOk(exitMatches({ reason: 'KVM_EXIT_IO' }, f), 'reason')
  const hc = journal('mapToShared', { hypercall: { nr: 12, args: [16 * MiB, 512, 0, 0, 0, 0], ret: 0, flags: 1 } }, null)
  t.ok(exitMatches({ reason: 'KVM_EXIT_HYPERCALL', private: false, gpa: 16 * MiB, npages: 512 }, hc))
  t.notOk(exitMatches({ reason: 'KVM_EXIT_HYPERCALL', npages: 8 }, hc))
  t.ok(exitMatches({ reason: 'KVM_EXIT_IO', port: 0x80, staleFault: true }, journal('staleFault', {}, null)))
  t.notOk(exitMatches({ reason: 'KVM_EXIT_IO', port: 0x80, staleFault: true }, journal('ioOut', { io: { direction: 1, size: 1, port: 0x80, count: 1, data: [1] } }, null)),
    'an OUT with no memory_fault beside it is not the stale case')
  t.notOk(exitMatches({ reason: 'KVM_EXIT_IO', port: 0x80 }, journal('ioOut', {}, null)), 'port')
  t.ok(exitMatches({ reason: 'KVM_EXIT_SYSTEM_EVENT', systemEvent: 3 }, journal('sysCrash', {}, null)))
  t.notOk(exitMatches({ reason: 'KVM_EXIT_SYSTEM_EVENT', systemEvent: 6 }, journal('sysCrash', {}, null)))
})

void t.test('decisions: resume is told apart by its ret and inject', async (t) => {
  const d = (x: Partial<RecordedDecision>): RecordedDecision => ({ action: 'resume', by: 'controller', seq: 1, ...x })
  t.ok(decisionAccepted({ action: 'resume', ret: 'error' }, d({ ret: 22 })))
  t.notOk(decisionAccepted({ action: 'resume', ret: 'error' }, d({})), 'no ret is ret 0')
  t.ok(decisionAccepted({ action: 'resume' }, d({ ret: 0 })))
  t.notOk(decisionAccepted({ action: 'resume' }, d({ inject: 'mce' })))
  t.ok(decisionAccepted({ action: 'resume', inject: 'mce' }, d({ inject: 'mce' })))
  t.notOk(decisionAccepted({ action: 'kill' }, d({})))
  t.ok(decisionAccepted({ action: 'kill' }, d({ action: 'kill' })))
  t.equal(describeDecision(d({ ret: 22, inject: 'mce' })), 'resume (ret 22, inject mce)')
  t.equal(describeDecision(d({ ret: 0 })), 'resume')
  t.equal(describeDecision(d({ action: 'convert' })), 'convert')
})

void t.test('verdicts', async (t) => {
  const implicit = byName('implicit-conversion')
  const good = [journal('faultShared', fault(MiB, 0), { action: 'convert' }), journal('faultPrivate', fault(MiB, 8), { action: 'convert' })]
  t.same(grade(implicit, { exits: good, state: 'stopped' }), { pass: true, did: 'convert, convert', correct: 'convert, convert' })

  const killed = grade(implicit, { exits: [journal('faultShared', fault(MiB, 0), { action: 'kill' })], state: 'killed' })
  t.equal(killed.pass, false)
  t.match(killed.failure, { exit: /^#\d+ KVM_EXIT_MEMORY_FAULT EFAULT gpa=0x100000/, message: 'did kill; a correct VMM does convert', why: /kvm_mmu_faultin_pfn/ })

  t.match(grade(implicit, { exits: good.slice(0, 1), state: 'killed' }).failure, { message: 'the VM ended (killed) before exit 2 of 2' })
  t.match(grade(implicit, { exits: [good[0] as JournalExit, journal('ioOut', {}, { action: 'resume' })], state: 'stopped' }).failure,
    { message: /took another path/ })
  t.match(grade(implicit, { exits: [...good, journal('ioOut', {}, { action: 'resume' })], state: 'stopped' }).failure,
    { message: /an exit the case does not expect/ })
  t.match(grade(implicit, { exits: good, state: 'paused' }).failure, { message: 'the VM ended paused, not stopped (every vCPU halted)' })

  const noGmem = byName('private-without-guest-memfd')
  const loop = [1, 2, 3, 4, 5].map(() => journal('faultPrivate', fault(1024 * MiB, 8), { action: 'resume' }))
  t.match(grade(noGmem, { exits: loop, state: 'killed', stoppedByKit: 'loop' }).failure,
    { message: 'did resume (the exit came back until the kit stopped the VM after 5 exits); a correct VMM does kill' })
  const kitKilled = [journal('faultPrivate', fault(1024 * MiB, 8), { action: 'kill', by: 'rest', reason: KIT_REASON })]
  const timedOut = grade(noGmem, { exits: kitKilled, state: 'killed', stoppedByKit: 'timeout' })
  t.equal(timedOut.did, '(none)', 'the kit\'s own kill is not the controller\'s')
  t.match(timedOut.failure, { message: /no decision the server accepted before the time limit/ })
  t.match(grade(noGmem, { exits: [journal('faultPrivate', fault(1024 * MiB, 8), null)], state: 'running', controllerExited: 'exit code 3' }).failure,
    { message: 'the controller exited (exit code 3) without deciding it' })
  t.match(grade(noGmem, { exits: [journal('faultPrivate', fault(1024 * MiB, 8), null)], state: 'running' }).failure, { message: 'no decision' })
  t.match(grade(noGmem, { exits: [journal('faultPrivate', fault(1024 * MiB, 8), { action: 'kill', by: 'rule' })], state: 'killed' }).failure,
    { message: 'decided by rule, not by the controller' })
  t.equal(grade(noGmem, { exits: [journal('faultPrivate', fault(1024 * MiB, 8), { action: 'kill', by: 'rest' })], state: 'killed' }).pass, true,
    'a controller may decide over REST')
  t.match(grade(noGmem, { exits: [journal('faultPrivate', fault(1024 * MiB, 8), { action: 'kill' })], state: 'stopped' }).failure,
    { message: 'the VM is stopped after the kill' })

  const poison = byName('hwpoison')
  const mce = [journal('poisonPrivate', fault(2 * MiB, 8, 'EHWPOISON'), { inject: 'mce' }), journal('ioOut', { io: { direction: 1, size: 1, port: 0x80, count: 1, data: [2] } }, {})]
  t.same(grade(poison, { exits: mce, state: 'stopped' }), { pass: true, did: 'resume (inject mce), resume', correct: 'kill or resume (inject mce), resume' })
})

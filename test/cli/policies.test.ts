// The built-in policies against every exit type, the policy file, the interactive policy and
// the no-guest_memfd loop guard.
import t from 'tap'
import { alwaysConvert, convertExplicitKillImplicit, isTerminal } from '../../src/cli/policies.js'
import type { PolicyDecision } from '../../src/cli/policies.js'
import { compilePolicyFile, parsePolicyFile, PolicyFileError, ruleMatches } from '../../src/cli/policy-file.js'
import { withRepeatGuard } from '../../src/cli/repeat-guard.js'
import { interactivePolicy, parseAnswer } from '../../src/cli/interactive.js'
import type { ExitFields } from '../../src/client/types.js'
import { loadPolicy } from '../../src/cli/decide.js'
import { readProgram } from '../../src/cli/vm-commands.js'
import { EXITS } from './exits.js'
import type { ExitName } from './exits.js'

/** What always-convert must answer to each exit, by action and the fields KVM reads back. */
const ALWAYS_CONVERT: Record<ExitName, Omit<PolicyDecision, 'reason'>> = {
  faultPrivate: { action: 'convert' },
  faultShared: { action: 'convert' },
  poisonPrivate: { action: 'kill' },
  poisonShared: { action: 'resume', inject: 'mce' },
  mapToShared: { action: 'convert' },
  mapToPrivate: { action: 'convert' },
  otherHypercall: { action: 'resume', ret: 0 },
  ioOut: { action: 'resume' },
  ioIn: { action: 'resume', data: [0, 0] },
  mmioRead: { action: 'resume', data: [0, 0, 0, 0] },
  mmioWrite: { action: 'resume' },
  hlt: { action: 'resume' },
  shutdown: { action: 'kill' },
  internalError: { action: 'kill' },
  unknown: { action: 'kill' },
  sysShutdown: { action: 'kill' },
  sysReset: { action: 'resume' },
  sysCrash: { action: 'kill' },
  sysWakeup: { action: 'resume' },
  sysSuspend: { action: 'resume' },
  sysSevTerm: { action: 'kill' },
  sysTdxFatal: { action: 'kill' },
  staleFault: { action: 'resume' }
}

const strip = ({ reason: _r, ...rest }: PolicyDecision): Omit<PolicyDecision, 'reason'> => rest

void t.test('always-convert answers every exit type as QEMU would', async (t) => {
  for (const [name, expected] of Object.entries(ALWAYS_CONVERT)) {
    t.same(strip(alwaysConvert(EXITS[name as ExitName])), expected, name)
  }
})

void t.test('convert-explicit-kill-implicit converts MAP_GPA_RANGE, kills on memory faults, else as always-convert', async (t) => {
  for (const name of Object.keys(ALWAYS_CONVERT) as ExitName[]) {
    const exit = EXITS[name]
    const got = strip(convertExplicitKillImplicit(exit))
    if (exit.reason === 'KVM_EXIT_MEMORY_FAULT') t.same(got, { action: 'kill' }, name)
    else t.same(got, ALWAYS_CONVERT[name], name)
  }
})

void t.test('a stale memory_fault beside another exit is ignored: only ret/errno/exit_reason make a fault', async (t) => {
  t.equal(convertExplicitKillImplicit(EXITS.staleFault).action, 'resume')
  // A record that names MEMORY_FAULT but came with KVM_RUN returning 0 is not a fault either.
  const bogus: ExitFields = { ...EXITS.faultPrivate, run: { ret: 0 } }
  t.not(alwaysConvert(bogus).action, 'convert')
})

void t.test('terminal exits are exactly triple fault, internal error, unknown and the fatal system events', async (t) => {
  const terminal = (Object.keys(EXITS) as ExitName[]).filter((n) => isTerminal(EXITS[n])).sort()
  t.same(terminal, ['internalError', 'shutdown', 'sysCrash', 'sysSevTerm', 'sysShutdown', 'sysTdxFatal', 'unknown'])
  t.notOk(isTerminal({ ...EXITS.sysShutdown, system_event: undefined }))
})

void t.test('policy file: first matching rule wins; reason, errno, private and nr narrow it', async (t) => {
  const policy = compilePolicyFile(parsePolicyFile({
    rules: [
      { reason: 'KVM_EXIT_MEMORY_FAULT', errno: 'EHWPOISON', action: 'kill' },
      { reason: 'MEMORY_FAULT', private: true, action: 'convert' },
      { reason: 'MEMORY_FAULT', private: false, action: 'kill' },
      { reason: 'HYPERCALL', nr: 12, private: false, action: 'resume', ret: -22 },
      { reason: 'KVM_EXIT_IO', action: 'resume', data: [0xff, 0xff] }
    ],
    default: 'kill'
  }))
  t.match(policy(EXITS.poisonShared), { action: 'kill', reason: 'policy file rule 0' })
  t.match(policy(EXITS.faultPrivate), { action: 'convert', reason: 'policy file rule 1' })
  t.match(policy(EXITS.faultShared), { action: 'kill', reason: 'policy file rule 2' })
  t.match(policy(EXITS.mapToShared), { action: 'resume', ret: -22 })
  t.match(policy(EXITS.mapToPrivate), { action: 'kill', reason: 'policy file default' }, 'private: false does not match a to-private map')
  t.same(strip(policy(EXITS.ioIn)), { action: 'resume', data: [0xff, 0xff] })
  t.same(strip(policy(EXITS.ioOut)), { action: 'resume', data: [0xff, 0xff] })
  t.match(policy(EXITS.hlt), { action: 'kill', reason: 'policy file default' })
  t.notOk(ruleMatches({ reason: '*', private: true, action: 'kill' }, EXITS.hlt), 'private never matches an exit with no direction')
})

void t.test('policy file: a bare array, a resume rule without data, and defaults', async (t) => {
  const bare = compilePolicyFile(parsePolicyFile([{ reason: '*', action: 'resume' }]))
  t.same(strip(bare(EXITS.mmioRead)), { action: 'resume', data: [0, 0, 0, 0] }, 'a read still gets its data')
  t.same(strip(bare(EXITS.otherHypercall)), { action: 'resume', ret: 0 })
  const fallback = compilePolicyFile(parsePolicyFile({ rules: [] }))
  t.equal(fallback(EXITS.faultPrivate).action, 'convert', 'no rule matches: always-convert')
  const builtin = compilePolicyFile(parsePolicyFile({ rules: [], default: 'convert-explicit-kill-implicit' }))
  t.equal(builtin(EXITS.faultPrivate).action, 'kill')
  const resume = compilePolicyFile(parsePolicyFile({ rules: [], default: 'resume' }))
  t.same(strip(resume(EXITS.ioIn)), { action: 'resume', data: [0, 0] })
})

void t.test('policy file: every mistake is refused with the path of the field', async (t) => {
  const bad: Array<[unknown, string]> = [
    [42, '$'],
    [{ rules: [], extra: 1 }, '$.extra'],
    [{ rule: [] }, '$.rule'],
    [{}, '$.rules'],
    [{ rules: [], default: 'sometimes' }, '$.default'],
    [[1], 'rules[0]'],
    [[{ reason: 'X', action: 'resume', actoin: 'kill' }], 'rules[0].actoin'],
    [[{ action: 'kill' }], 'rules[0].reason'],
    [[{ reason: 'IO', action: 'skip' }], 'rules[0].action'],
    [[{ reason: 'IO', action: 'kill' }, { reason: 'IO', action: 'kill', errno: 'EIO' }], 'rules[1].errno'],
    [[{ reason: 'IO', action: 'kill', private: 'yes' }], 'rules[0].private'],
    [[{ reason: 'IO', action: 'resume', ret: 1.5 }], 'rules[0].ret'],
    [[{ reason: 'IO', action: 'resume', data: [1, 'a'] }], 'rules[0].data']
  ]
  for (const [json, path] of bad) {
    t.throws(() => parsePolicyFile(json), PolicyFileError, path)
    try { parsePolicyFile(json) } catch (e) { t.equal((e as PolicyFileError).path, path) }
  }
})

void t.test('repeat guard: the same fault after converting, N times in a row, kills instead', async (t) => {
  const guarded = withRepeatGuard(alwaysConvert, 2)
  const again = (seq: number): ExitFields => ({ ...EXITS.faultPrivate, exit: seq, seq })
  t.equal((await guarded(again(1))).action, 'convert', 'first time: convert')
  t.equal((await guarded(again(2))).action, 'convert', 'repeat 1')
  const third = await guarded(again(3))
  t.equal(third.action, 'kill', 'repeat 2 reaches the limit')
  t.match(third.reason, /no guest_memfd/)
  t.equal((await guarded(again(4))).action, 'convert', 'after the kill the count starts over')
})

void t.test('repeat guard: progress, another gpa, another vCPU or VM, or not converting resets it', async (t) => {
  const guarded = withRepeatGuard(alwaysConvert, 1)
  const f = EXITS.faultPrivate
  t.equal((await guarded(f)).action, 'convert')
  t.equal((await guarded({ ...f, vcpu: 1 })).action, 'convert', 'another vCPU has its own count')
  t.equal((await guarded({ ...f, vm: 'vm2' })).action, 'convert', 'another VM has its own count')
  t.equal((await guarded({ ...f, memory_fault: { ...f.memory_fault, gpa: 0x9000 } })).action, 'convert', 'another gpa')
  t.equal((await guarded(f)).action, 'convert', 'back to the first gpa: a different fault came between')
  t.equal((await guarded(EXITS.hlt)).action, 'resume')
  t.equal((await guarded(f)).action, 'convert', 'the vCPU made progress in between')
  const killer = withRepeatGuard(convertExplicitKillImplicit, 1)
  t.equal((await killer(f)).action, 'kill')
  t.equal((await killer(f)).action, 'kill', 'nothing was converted, so nothing repeats')
})

void t.test('interactive: c/r/k, enter takes the suggestion, nonsense asks again, convert only where it can help', async (t) => {
  const answers: string[] = []
  const questions: string[] = []
  const ask = async (q: string): Promise<string> => { questions.push(q); return answers.shift() ?? '' }
  const policy = interactivePolicy(ask)
  answers.push('c')
  t.match(await policy(EXITS.faultPrivate), { action: 'convert' })
  t.match(questions[0], /KVM_EXIT_MEMORY_FAULT EFAULT gpa=0x1000/)
  t.match(questions[0], /\[c\]onvert \[r\]esume \[k\]ill \(enter: convert\)/)
  answers.push('k')
  t.match(await policy(EXITS.mapToShared), { action: 'kill' })
  answers.push('R')
  t.same(strip(await policy(EXITS.ioIn)), { action: 'resume', data: [0, 0] })
  answers.push('')
  t.same(strip(await policy(EXITS.otherHypercall)), { action: 'resume', ret: 0 })
  answers.push('x', 'convert', 'resume')
  questions.length = 0
  t.match(await policy(EXITS.hlt), { action: 'resume' })
  t.equal(questions.length, 3)
  t.match(questions[1], /^answer c, r or k/)
  t.match(questions[2], /^conversion cannot help/)
  t.notMatch(questions[0], /\[c\]onvert/, 'convert is not offered for HLT')
  answers.push('?', '?', '?')
  t.equal((await policy(EXITS.shutdown)).action, 'kill', 'three unusable answers: the suggestion')
  t.same(['', ' K ', 'kill', 'nope'].map(parseAnswer), ['default', 'kill', 'kill', undefined])
})

void t.test('loadPolicy: built-ins by name, interactive only with a terminal, else a policy file', async (t) => {
  const files: Record<string, string> = {
    'ok.json': JSON.stringify([{ reason: 'HLT', action: 'kill' }]),
    'bad.json': '{ not json',
    'wrong.json': JSON.stringify({ rules: [{ reason: 'HLT', action: 'maybe' }] })
  }
  const read = (p: string): string | undefined => files[p]
  t.equal(loadPolicy('always-convert', read), alwaysConvert)
  t.equal((await loadPolicy('ok.json', read)(EXITS.hlt)).action, 'kill')
  t.throws(() => loadPolicy('interactive', read), /needs a terminal/)
  t.equal((await loadPolicy('interactive', read, async () => 'k')(EXITS.hlt)).action, 'kill')
  t.throws(() => loadPolicy('missing.json', read), /neither a policy \(always-convert, convert-explicit-kill-implicit, interactive\) nor a readable file/)
  t.throws(() => loadPolicy('bad.json', read), /policy file bad.json: /)
  t.throws(() => loadPolicy('wrong.json', read), /policy file wrong.json: rules\[0\]\.action/)
})

void t.test('a program file must be a JSON array', async (t) => {
  const files: Record<string, string> = { 'p.json': '[{"op":"hlt"}]', 'obj.json': '{"op":"hlt"}', 'bad.json': '[' }
  const read = (p: string): string | undefined => files[p]
  t.same(readProgram('p.json', read), [{ op: 'hlt' }])
  t.throws(() => readProgram('obj.json', read), /a program is a JSON array/)
  t.throws(() => readProgram('bad.json', read), /bad.json is not JSON/)
  t.throws(() => readProgram('none.json', read), /cannot read the program file none.json/)
})

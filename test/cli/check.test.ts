// `faultline check` end to end: a server on 127.0.0.1, controllers as plain Node processes
// (test/cli/controllers.ts). The reference controller passes every case on every VM type,
// which also proves each case's expected exits against the simulator; wrong controllers fail
// the cases they should, with the exit and the rule; JUnit is strict XML.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { runCheck } from '../../src/cli/check/command.js'
import type { CheckCommand } from '../../src/cli/check/command.js'
import { CASES } from '../../src/cli/check/cases.js'
import type { CheckCase } from '../../src/cli/check/cases.js'
import { main } from '../../src/cli/main.js'
import type { MainIo } from '../../src/cli/main.js'
import { memoryOutput } from '../../src/cli/output.js'
import { openSession } from '../../src/cli/session.js'
import type { Session } from '../../src/cli/session.js'
import { localServer } from '../../src/local-server.js'
import { plainEnv } from '../child-env.js'
import { BLIND, REFERENCE, RESUMER, writeController } from './controllers.js'
import { findAll, parseXml } from './xml.js'

const dir = mkdtempSync(join(tmpdir(), 'faultline-check-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const reference = writeController(dir, 'reference', REFERENCE)
const blind = writeController(dir, 'blind', BLIND)
const resumer = writeController(dir, 'resumer', RESUMER)

async function session (t: Test): Promise<Session> {
  const server = await localServer({ settings: { rateLimitPerMinute: 0, maxEventLoopDelayMs: 0 } })
  t.teardown(() => server.close())
  return await openSession({ url: server.url, token: server.token, json: false }, {})
}

const command = (controller: string[], over: Partial<CheckCommand> = {}): CheckCommand =>
  ({ kind: 'check', controller, cases: [], timeoutMs: 10_000, ...over })

void t.test('the reference controller passes every case on every VM type it applies to', async (t) => {
  const s = await session(t)
  const out = memoryOutput()
  const junit = join(dir, 'reference.xml')
  const code = await runCheck(s, command([process.execPath, reference], { junit }), out, { env: plainEnv() })
  const runs = CASES.reduce((n, c) => n + c.types.length, 0)
  const text = out.lines.join('\n')
  t.equal(code, 0, text)
  t.match(text, new RegExp(`${runs} passed, 0 failed \\(${runs} runs of ${CASES.length} cases\\)`))
  t.match(text, /^CASE +TYPE +CONTROLLER DID +CORRECT VMM +RESULT$/m)
  t.match(text, /^snp-psc-fails-half-way +snp +convert, resume \(ret 22\), kill +convert, resume \(ret EINVAL\) or kill, kill +pass$/m)
  t.match(text, /^ {2}- kvm_gmem_get_pfn \(virt\/kvm\/guest_memfd.c\)/m, 'the rules are printed')
  const xml = parseXml(readFileSync(junit, 'utf8'))
  const cases = findAll(xml, 'testcase')
  t.equal(cases.length, runs)
  t.equal(findAll(xml, 'failure').length, 0)
  t.match(cases[0]?.attrs, { name: 'implicit-conversion on snp', classname: 'faultline.check.implicit-conversion' })
  t.match(findAll(xml, 'system-out')[0]?.text, /controller: exit code 0\nexit \d+ KVM_EXIT_MEMORY_FAULT -> \{"action":"convert"\}/)
})

void t.test('a controller that trusts stale memory_fault data and converts everything fails where it should', async (t) => {
  const s = await session(t)
  const out = memoryOutput()
  const junit = join(dir, 'blind.xml')
  const code = await runCheck(s, command([process.execPath, blind], {
    junit, cases: ['implicit-conversion', 'snp-psc-fails-half-way', 'stale-memory-fault'], timeoutMs: 1500
  }), out, { env: plainEnv() })
  const text = out.lines.join('\n')
  t.equal(code, 1)
  t.match(text, /^implicit-conversion +snp +convert, convert +convert, convert +pass$/m)
  t.match(text, /^snp-psc-fails-half-way +snp +convert, convert +convert, resume \(ret EINVAL\) or kill, kill +FAIL$/m)
  t.match(text, /FAIL snp-psc-fails-half-way on snp at exit #2 KVM_EXIT_HYPERCALL MAP_GPA_RANGE gpa=0x4000000 npages=8 to private\n {2}did convert; a correct VMM does resume \(ret EINVAL\) or kill/)
  t.match(text, /FAIL stale-memory-fault on tdx at exit #1 KVM_EXIT_IO out port=0x80/)
  t.match(text, /no decision the server accepted before the time limit/)
  t.match(text, /2 passed, 3 failed \(5 runs of 3 cases\)/)
  const xml = parseXml(readFileSync(junit, 'utf8'))
  t.equal(findAll(xml, 'testsuite')[0]?.attrs.failures, '3')
  const failures = findAll(xml, 'failure')
  t.equal(failures.length, 3)
  t.match(failures[0]?.text, /at exit #2 .*\ncontroller did: convert, convert\na correct VMM: convert, resume \(ret EINVAL\) or kill, kill\nThe next run asks/)
})

void t.test('the kit stops a looping controller, one that ends early, and one that cannot start', async (t) => {
  const s = await session(t)
  const out = memoryOutput({ json: true })
  const code = await runCheck(s, command([process.execPath, resumer], { cases: ['private-without-guest-memfd'] }), out, { env: plainEnv() })
  t.equal(code, 1)
  const looped = out.lines.map((l) => JSON.parse(l) as { pass: boolean, failure: { message: string } })
  t.equal(looped.length, 2)
  t.match(looped[0], { pass: false, failure: { message: /did resume \(the exit came back until the kit stopped the VM after 5 exits\); a correct VMM does kill/ } })

  const early = memoryOutput()
  t.equal(await runCheck(s, command([process.execPath, '-e', 'process.exit(3)'], { cases: ['guest-crash'] }), early, { env: plainEnv() }), 1)
  t.match(early.lines.join('\n'), /the controller exited \(exit code 3\) without deciding it/)

  const missing = memoryOutput()
  t.equal(await runCheck(s, command([join(dir, 'no-such-controller')], { cases: ['stale-memory-fault'] }), missing, { env: plainEnv() }), 1)
  t.match(missing.lines.join('\n'), /controller: failed to start: ENOENT/)
  // A case whose interrupt the guest never takes (it is killed first) must not pass.
  const noRetry: CheckCase = {
    name: 'untaken-interrupt', title: 'x', types: ['tdx'], vm: { memory: { size_mib: 16 }, program: [{ op: 'panic' }] },
    atFirstExit: { interrupt: 0 }, steps: [{ exit: { reason: 'KVM_EXIT_SYSTEM_EVENT' }, accept: [{ action: 'kill' }], why: 'x' }], maxExits: 2
  }
  const untaken = memoryOutput()
  t.equal(await runCheck(s, command([process.execPath, reference]), untaken, { env: plainEnv(), cases: [noRetry] }), 1)
  t.match(untaken.lines.join('\n'), /the kit's interrupt was never taken: the case did not happen as written/)

  const abort = new AbortController()
  setTimeout(() => { abort.abort() }, 300)
  const interrupted = memoryOutput()
  t.equal(await runCheck(s, command([process.execPath, '-e', 'setTimeout(() => {}, 60000)']), interrupted, { env: plainEnv(), signal: abort.signal }), 130,
    'Ctrl-C ends the case under way and runs no more')
  t.match(interrupted.lines.join('\n'), /0 passed, 1 failed \(1 runs of 8 cases\)/)
  t.same((await s.client.listVms()).items, [], 'every VM the kit made is deleted')
})

void t.test('faultline decide is a controller the kit can run, and it decides a crash before it leaves', async (t) => {
  const s = await session(t)
  const out = memoryOutput()
  // The VM has crashed, its exit pending, before decide subscribes: decide must still kill it.
  // No VM named: decide takes FAULTLINE_VM.
  const decide = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'decide', '--policy', 'always-convert']
  const code = await runCheck(s, command(decide, { cases: ['guest-crash'] }), out, { env: plainEnv() })
  t.equal(code, 0, out.lines.join('\n'))
  t.match(out.lines.join('\n'), /^guest-crash +tdx +kill +kill +pass$/m)
})

void t.test('faultline check starts a server of its own when no URL is given', async (t) => {
  const lines: string[] = []
  const io: MainIo = {
    write: (x) => { lines.push(x) },
    writeErr: (x) => { lines.push(x) },
    output: () => { const o = memoryOutput(); o.out = (l) => { lines.push(l) }; o.err = (l) => { lines.push(l) }; return o },
    tty: false
  }
  const junit = join(dir, 'main.xml')
  const code = await main(['check', '--case', 'guest-crash', '--junit', junit, '--', process.execPath, reference], plainEnv({ FAULTLINE_URL: '' }), io)
  t.equal(code, 0, lines.join('\n'))
  t.match(lines.join('\n'), /4 passed, 0 failed/)
  t.equal(findAll(parseXml(readFileSync(junit, 'utf8')), 'testcase').length, 4)
  t.equal(await main(['check', '--case', 'nope', '--', process.execPath, reference], plainEnv({ FAULTLINE_URL: '' }), io), 64)
  t.match(lines.join('\n'), /no such case: nope/)
  t.equal(await main(['decide', '--policy', 'always-convert'], plainEnv({ FAULTLINE_URL: 'http://127.0.0.1:9', FAULTLINE_VM: '' }), io), 64)
  t.match(lines.join('\n'), /missing the VM to decide for \(an id, a name, or FAULTLINE_VM\)/)
})

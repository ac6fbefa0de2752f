// `faultline test` and `faultline record` against a fake of the agreed server contract
// (test/cli/fake-replay-server.ts), with controllers as plain Node processes: a trace whose
// decisions the controller repeats passes, one it decides otherwise diverges (JUnit names
// recorded and actual), refused traces, early and stuck controllers, time limits; record to a
// file and to stdout, following a live VM until it ends.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { FaultlineClient } from '../../src/client/client.js'
import { main } from '../../src/cli/main.js'
import type { MainIo } from '../../src/cli/main.js'
import { memoryOutput } from '../../src/cli/output.js'
import { runRecord, traceProblem } from '../../src/cli/record.js'
import type { RecordCommand } from '../../src/cli/record.js'
import { runTest, traceFiles } from '../../src/cli/replays.js'
import type { TestCommand } from '../../src/cli/replays.js'
import type { Session } from '../../src/cli/session.js'
import { plainEnv } from '../child-env.js'
import { REFERENCE, writeController } from './controllers.js'
import { EXITS } from './exits.js'
import { FAKE_TOKEN, startFakeReplayServer, traceText } from './fake-replay-server.js'
import type { FakeReplayServer } from './fake-replay-server.js'
import { findAll, parseXml } from './xml.js'

const dir = mkdtempSync(join(tmpdir(), 'faultline-replays-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const reference = writeController(dir, 'reference', REFERENCE)

const exit = (name: keyof typeof EXITS, id: number, action: string): Record<string, unknown> =>
  ({ ...EXITS[name], vm: 'vm_recorded', exit: id, seq: id * 2, pending: undefined, decision: { action, by: 'controller', seq: id * 2 + 1 } })

// What the reference controller decides: convert the fault and the MapGPA, resume the OUT.
const AGREES = traceText([exit('faultShared', 1, 'convert'), exit('mapToShared', 2, 'convert'), exit('ioOut', 3, 'resume')])
// The recorded VMM resumed the fault instead: the controller's convert diverges from it.
const DIFFERS = traceText([exit('faultShared', 1, 'resume'), exit('ioOut', 2, 'resume')])

async function fake (t: Test): Promise<{ server: FakeReplayServer, session: Session }> {
  const server = await startFakeReplayServer()
  t.teardown(() => server.app.close())
  const client = new FaultlineClient({ url: server.url, token: FAKE_TOKEN })
  return { server, session: { client, url: server.url, token: FAKE_TOKEN, local: false, close: async () => {} } }
}

const testCommand = (traces: string[], over: Partial<TestCommand> = {}): TestCommand =>
  ({ kind: 'test', traces, controller: [process.execPath, reference], decide: 'controller', onDivergence: 'continue', timeoutMs: 10_000, ...over })

void t.test('trace files: a directory gives its *.ndjson files in name order; a missing path is a usage error', async (t) => {
  const traces = join(dir, 'order')
  mkdirSync(traces)
  for (const f of ['b.ndjson', 'a.ndjson', 'notes.txt']) writeFileSync(join(traces, f), AGREES)
  t.same(traceFiles([traces, join(traces, 'notes.txt')]), [join(traces, 'a.ndjson'), join(traces, 'b.ndjson'), join(traces, 'notes.txt')])
  t.throws(() => traceFiles([join(dir, 'nope')]), /no such trace file or directory/)
  const empty = join(dir, 'empty')
  mkdirSync(empty)
  t.throws(() => traceFiles([empty]), /holds no \*\.ndjson trace/)
})

void t.test('a controller that repeats the recorded decisions passes; one that decides otherwise diverges', async (t) => {
  const { server, session } = await fake(t)
  const traces = join(dir, 'traces')
  mkdirSync(traces)
  writeFileSync(join(traces, '1-agrees.ndjson'), AGREES)
  writeFileSync(join(traces, '2-differs.ndjson'), DIFFERS)
  const junit = join(dir, 'test.xml')
  const out = memoryOutput()
  const code = await runTest(session, testCommand([traces], { junit }), out, { env: plainEnv(), pollMs: 20 })
  const text = out.lines.join('\n')
  t.equal(code, 1, text)
  t.match(text, /^PASS +.*1-agrees\.ndjson {2}exits 3\/3, decisions 3\/3 /m)
  t.match(text, /^DIVERGED .*2-differs\.ndjson {2}exits 2\/2, decisions 2\/2 /m)
  t.match(text, /DECISION_DIVERGED at exit #1 \(seq 2\): recorded \{"action":"resume","by":"controller","seq":3\}, actual \{"action":"convert"\}/)
  t.match(text, /2 traces: 1 passed, 1 diverged, 0 failed/)
  t.same(server.queries.map((q) => [q.decide, q.on_divergence]), [['controller', 'continue'], ['controller', 'continue']])
  const xml = parseXml(readFileSync(junit, 'utf8'))
  const cases = findAll(xml, 'testcase')
  t.same(cases.map((c) => c.attrs.name), ['1-agrees.ndjson', '2-differs.ndjson'])
  const failure = findAll(cases[1] as never, 'failure')
  t.equal(failure.length, 1)
  t.match(failure[0], { attrs: { message: 'DECISION_DIVERGED at exit #1', type: 'DECISION_DIVERGED' }, text: /recorded: \{"action":"resume".*\nactual: \{"action":"convert"\}/ })
  t.match(findAll(cases[0] as never, 'system-out')[0]?.text, /^controller: exit code 0\n/)
})

void t.test('--on-divergence stop, --decide recorded, refused traces and --json', async (t) => {
  const { server, session } = await fake(t)
  const differs = join(dir, 'differs.ndjson')
  writeFileSync(differs, DIFFERS)
  const stopOut = memoryOutput()
  t.equal(await runTest(session, testCommand([differs], { onDivergence: 'stop' }), stopOut, { env: plainEnv(), pollMs: 20 }), 1)
  t.match(stopOut.lines.join('\n'), /^STOPPED +.*differs\.ndjson {2}exits 1\/2/m)

  const agrees = join(dir, 'agrees.ndjson')
  writeFileSync(agrees, AGREES)
  const rec = memoryOutput({ json: true })
  t.equal(await runTest(session, testCommand([agrees], { decide: 'recorded', controller: [] }), rec, { env: plainEnv(), pollMs: 20 }), 0)
  t.match(JSON.parse(rec.lines[0] as string), { file: agrees, pass: true, replay: { state: 'passed', decide: 'recorded' } })
  t.same(server.queries.slice(-1), [{ decide: 'recorded', on_divergence: 'continue' }])

  const bad = join(dir, 'bad.ndjson')
  writeFileSync(bad, '{"format":"something-else"}\n')
  const junit = join(dir, 'bad.xml')
  const badOut = memoryOutput()
  t.equal(await runTest(session, testCommand([bad], { junit }), badOut, { env: plainEnv() }), 1)
  t.match(badOut.lines.join('\n'), /^ERROR +.*bad\.ndjson .*\n {9}the server refused the trace: FAULTLINE_BAD_TRACE: not a faultline-trace\/1 trace \(line 1\)\n1 traces: 0 passed, 0 diverged, 1 failed/m)
  t.match(findAll(parseXml(readFileSync(junit, 'utf8')), 'error')[0]?.attrs.message, /refused the trace/)
})

void t.test('a controller that ends early, one that never decides, and the time limit', async (t) => {
  const { session } = await fake(t)
  const agrees = join(dir, 'early.ndjson')
  writeFileSync(agrees, AGREES)
  const early = memoryOutput()
  t.equal(await runTest(session, testCommand([agrees], { controller: [process.execPath, '-e', 'console.log("bye"); process.exit(4)'] }), early, { env: plainEnv(), pollMs: 20 }), 1)
  t.match(early.lines.join('\n'), /the controller ended \(exit code 4\) before the replay finished \(state waiting\)\n {9}controller: exit code 4\n {9}\| bye/)

  const stuck = memoryOutput()
  t.equal(await runTest(session, testCommand([agrees], { controller: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], timeoutMs: 300 }), stuck, { env: plainEnv(), pollMs: 20 }), 1)
  t.match(stuck.lines.join('\n'), /not finished after 300 ms \(state waiting\)/)

  const hang = join(dir, 'hang.ndjson')
  writeFileSync(hang, traceText([exit('ioOut', 1, 'resume')], { hang: true }))
  const junit = join(dir, 'hang.xml')
  t.equal(await runTest(session, testCommand([hang], { decide: 'recorded', controller: [], timeoutMs: 200, junit }), memoryOutput(), { env: plainEnv(), pollMs: 20 }), 1)
  t.match(findAll(parseXml(readFileSync(junit, 'utf8')), 'error')[0]?.attrs.message, /not finished after 200 ms \(state running\)/)
})

const recordCommand = (vm: string, over: Partial<RecordCommand> = {}): RecordCommand => ({ kind: 'record', vm, follow: false, timeoutMs: 5000, ...over })

void t.test('record: the trace to a file or stdout, following a live VM until it ends', async (t) => {
  const { server, session } = await fake(t)
  server.vms.set('vm_done', { states: ['stopped'], trace: AGREES })
  const file = join(dir, 'recorded.ndjson')
  const out = memoryOutput()
  t.equal(await runRecord(session, recordCommand('vm_done', { output: file }), out), 0)
  t.equal(readFileSync(file, 'utf8'), AGREES)
  t.same(out.errors, [`vm_done (stopped): 3 records written to ${file}`])
  const stdout = memoryOutput()
  t.equal(await runRecord(session, recordCommand('vm_done'), stdout), 0)
  t.equal(stdout.lines.join('\n') + '\n', AGREES)

  server.vms.set('vm_live', { states: ['running', 'running', 'killed'], trace: AGREES })
  const live = memoryOutput()
  t.equal(await runRecord(session, recordCommand('vm_live', { follow: true, output: file }), live, { pollMs: 10 }), 0)
  t.match(live.statuses, ['waiting for vm_live to end (running) ...'])
  t.same(live.errors, [`vm_live (killed): 3 records written to ${file}`])

  server.vms.set('vm_forever', { states: ['running'], trace: AGREES })
  const forever = memoryOutput()
  t.equal(await runRecord(session, recordCommand('vm_forever', { follow: true, timeoutMs: 100 }), forever, { pollMs: 10 }), 1)
  t.match(forever.errors, [/vm_forever is still running after 100 ms; nothing written/])
  const abort = new AbortController()
  abort.abort()
  t.equal(await runRecord(session, recordCommand('vm_forever', { follow: true }), memoryOutput(), { signal: abort.signal }), 130)

  server.vms.set('vm_odd', { states: ['stopped'], trace: '{"format":"other"}\n' })
  const odd = memoryOutput()
  t.equal(await runRecord(session, recordCommand('vm_odd'), odd), 1)
  t.match(odd.errors, [/not a trace: its first line is not a faultline-trace\/1 header \(format "other"\)/])
  t.equal(traceProblem('nonsense'), 'its first line is not JSON')
  t.equal(traceProblem(AGREES), undefined)
})

void t.test('test and record through main, against the URL given', async (t) => {
  const { server } = await fake(t)
  server.vms.set('vm_done', { states: ['stopped'], trace: AGREES })
  const written: string[] = []
  const io: MainIo = {
    write: (x) => { written.push(x) },
    writeErr: (x) => { written.push(x) },
    output: () => { const o = memoryOutput(); o.out = (l) => { written.push(l) }; o.err = (l) => { written.push(l) }; return o },
    tty: false
  }
  const file = join(dir, 'main.ndjson')
  const env = plainEnv({ FAULTLINE_URL: server.url, FAULTLINE_TOKEN: FAKE_TOKEN })
  t.equal(await main(['record', 'vm_done', '-o', file], env, io), 0)
  t.equal(await main(['test', file, '--', process.execPath, reference], env, io), 0, written.join('\n'))
  t.match(written.join('\n'), /1 traces: 1 passed, 0 diverged, 0 failed/)
  t.equal(await main(['test', file, '--decide', 'recorded'], env, io), 0)
  t.equal(await main(['record', 'vm_nope'], env, io), 1)
  t.match(written.join('\n'), /FAULTLINE_VM_NOT_FOUND/)
})

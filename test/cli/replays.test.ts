// `faultline test` and `faultline record` end to end against the real server (an in-process
// one on 127.0.0.1) and the real traces: the golden traces in traces/ and traces recorded here
// from live VMs. Controllers are plain Node processes (test/cli/controllers.ts) or `faultline
// decide` itself. Hand-edited traces make the divergences and refusals a controller cannot.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { runController } from '../../src/cli/controller.js'
import { main } from '../../src/cli/main.js'
import type { MainIo } from '../../src/cli/main.js'
import { memoryOutput } from '../../src/cli/output.js'
import { alwaysConvert } from '../../src/cli/policies.js'
import { runRecord, traceProblem } from '../../src/cli/record.js'
import type { RecordCommand } from '../../src/cli/record.js'
import { runTest, traceFiles } from '../../src/cli/replays.js'
import type { TestCommand } from '../../src/cli/replays.js'
import { startController } from '../../src/cli/child.js'
import { openSession } from '../../src/cli/session.js'
import type { Session } from '../../src/cli/session.js'
import type { ExitMessage } from '../../src/client/types.js'
import { localServer } from '../../src/local-server.js'
import { plainEnv } from '../child-env.js'
import { ALWAYS_CONVERT, ALWAYS_CONVERT_BUT_ONE, writeController } from './controllers.js'
import { findAll, parseXml } from './xml.js'

const GOLDEN = 'traces'
const golden = (name: string): string => join(GOLDEN, name)
const dir = mkdtempSync(join(tmpdir(), 'faultline-replays-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const convert = [process.execPath, writeController(dir, 'always-convert', ALWAYS_CONVERT)]
const butOne = [process.execPath, writeController(dir, 'but-one', ALWAYS_CONVERT_BUT_ONE)]

async function server (t: Test): Promise<Session & { close: () => Promise<void> }> {
  const s = await localServer({ settings: { rateLimitPerMinute: 0, maxEventLoopDelayMs: 0 } })
  t.teardown(() => s.close())
  return await openSession({ url: s.url, token: s.token, json: false }, {})
}

/** main() with its output kept; FAULTLINE_URL '' makes `test` start a server of its own. */
function cli (): { io: MainIo, text: () => string } {
  const lines: string[] = []
  const io: MainIo = {
    write: (x) => { lines.push(x) },
    writeErr: (x) => { lines.push(x) },
    output: (opts) => { const o = memoryOutput({ json: opts.json }); o.out = (l) => { lines.push(l) }; o.err = (l) => { lines.push(l) }; return o },
    tty: false
  }
  return { io, text: () => lines.join('\n') }
}

const testCommand = (traces: string[], over: Partial<TestCommand> = {}): TestCommand =>
  ({ kind: 'test', traces, controller: convert, decide: 'controller', onDivergence: 'continue', timeoutMs: 20_000, ...over })

const linesOf = (file: string): Array<Record<string, unknown>> =>
  readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
/** The 1-based line of a trace's first line that matches. */
const lineNumber = (file: string, match: Record<string, unknown>): number =>
  linesOf(file).findIndex((l) => Object.entries(match).every(([k, v]) => l[k] === v)) + 1

/** A trace with lines taken out (1-based) and its end line's count made right again. */
function without (file: string, drop: number[]): string {
  const kept = linesOf(file).filter((_, i) => !drop.includes(i + 1))
  const end = kept[kept.length - 1] as { lines: number }
  end.lines = kept.length - 1
  return kept.map((l) => JSON.stringify(l)).join('\n') + '\n'
}

void t.test('trace files: a directory gives its *.ndjson files in name order; a missing path is a usage error', async (t) => {
  const traces = join(dir, 'order')
  mkdirSync(traces)
  for (const f of ['b.ndjson', 'a.ndjson', 'notes.txt']) writeFileSync(join(traces, f), '')
  t.same(traceFiles([traces, join(traces, 'notes.txt')]), [join(traces, 'a.ndjson'), join(traces, 'b.ndjson'), join(traces, 'notes.txt')])
  t.throws(() => traceFiles([join(dir, 'nope')]), /no such trace file or directory/)
  const empty = join(dir, 'empty')
  mkdirSync(empty)
  t.throws(() => traceFiles([empty]), /holds no \*\.ndjson trace/)
})

void t.test('faultline test traces/ -- <always-convert>: every golden trace passes, each controller ends by itself', async (t) => {
  const all = readdirSync(GOLDEN).filter((f) => f.endsWith('.ndjson'))
  const junit = join(dir, 'golden.xml')
  const { io, text } = cli()
  const code = await main(['test', `${GOLDEN}/`, '--junit', junit, '--', ...convert], plainEnv({ FAULTLINE_URL: '' }), io)
  t.equal(code, 0, text())
  for (const f of all) t.match(text(), new RegExp(`^PASS +${GOLDEN}/${f.replaceAll('.', '\\.')} {2}exits (\\d+)/\\1, decisions (\\d+)/\\2 `, 'm'))
  t.match(text(), `${all.length} traces: ${all.length} passed, 0 diverged, 0 failed`)
  const cases = findAll(parseXml(readFileSync(junit, 'utf8')), 'testcase')
  t.same(cases.map((c) => c.attrs.name), all)
  t.equal(findAll(parseXml(readFileSync(junit, 'utf8')), 'failure').length, 0)
  // Ended by itself (not by the runner's SIGTERM): the replay VM ended stopped or killed.
  for (const c of cases) t.match(findAll(c, 'system-out')[0]?.text, /^controller: exit code 0\n/, String(c.attrs.name))
})

void t.test('faultline test --decide recorded traces/: every golden trace passes with no controller', async (t) => {
  const { io, text } = cli()
  t.equal(await main(['--json', 'test', '--decide', 'recorded', GOLDEN], plainEnv({ FAULTLINE_URL: '' }), io), 0, text())
  const results = text().split('\n').map((l) => JSON.parse(l) as { pass: boolean, controller?: string, replay: { decide: string, state: string } })
  t.equal(results.length, readdirSync(GOLDEN).filter((f) => f.endsWith('.ndjson')).length)
  for (const r of results) t.match(r, { pass: true, controller: undefined, replay: { decide: 'recorded', state: 'passed' } })
  const refused = cli()
  t.equal(await main(['test', '--decide', 'recorded', golden('hwpoison.snp.ndjson'), '--', ...convert], plainEnv({ FAULTLINE_URL: '' }), refused.io), 64)
})

void t.test('a controller that differs in one decision: one divergence at that exit, in the report and the JUnit file', async (t) => {
  const s = await server(t)
  const differs = golden('implicit-conversions.tdx.ndjson')
  const line = lineNumber(differs, { t: 'decision', exit: 7 })
  const junit = join(dir, 'differs.xml')
  const out = memoryOutput()
  const code = await runTest(s, testCommand([golden('tdx-boot.tdx.ndjson'), differs], { controller: butOne, onDivergence: 'use_recorded', junit }), out, { env: plainEnv() })
  const text = out.lines.join('\n')
  t.equal(code, 1, text)
  t.match(text, /^PASS +traces\/tdx-boot\.tdx\.ndjson /m)
  t.match(text, /^DIVERGED traces\/implicit-conversions\.tdx\.ndjson {2}exits 7\/7, decisions 7\/7 /m)
  const reported = text.split('\n').filter((l) => l.includes('_DIVERGED at'))
  t.same(reported.length, 1, text)
  t.match(reported[0], new RegExp(`^ +DECISION_DIVERGED at exit #7 \\(line ${line}, seq 16\\): recorded \\{"t":"decision","seq":16,"exit":7,"action":"convert".*\\}, actual \\{"t":"decision","exit":7,"action":"resume","by":"(rest|controller)"\\}$`))
  t.match(text, /2 traces: 1 passed, 1 diverged, 0 failed/)

  const xml = parseXml(readFileSync(junit, 'utf8'))
  const cases = findAll(xml, 'testcase')
  t.same(cases.map((c) => c.attrs.name), ['tdx-boot.tdx.ndjson', 'implicit-conversions.tdx.ndjson'])
  t.same(findAll(cases[0] as never, 'failure'), [])
  const failures = findAll(cases[1] as never, 'failure')
  t.equal(failures.length, 1)
  t.match(failures[0], {
    attrs: { message: `DECISION_DIVERGED at exit #7 (line ${line}, seq 16)`, type: 'DECISION_DIVERGED' },
    text: /^recorded: \{.*"action":"convert".*\}\nactual: \{.*"action":"resume".*\}$/
  })
  t.equal(findAll(xml, 'testsuite')[0]?.attrs.failures, '1')

  // Going on with the controller's resume, the guest faults again where it halted: the state
  // line diverges too, and is named as a state change (it has no exit).
  const cont = memoryOutput()
  // The replay ends with exit 8 pending and the VM running: the controller is stopped for it.
  t.equal(await runTest(s, testCommand([differs], { controller: butOne }), cont, { env: plainEnv(), graceMs: 100 }), 1)
  const halted = lineNumber(differs, { t: 'state', reason: 'halted' })
  t.match(cont.lines.join('\n'), new RegExp(`DECISION_DIVERGED at exit #7 \\(line ${line}, seq 16\\)[^\\n]*\\n +SIMULATION_DIVERGED at a state change \\(line ${halted}, seq 17\\): recorded \\{"t":"state","seq":17,"state":"stopped","reason":"halted"\\}, actual \\{"t":"exit"`))
  t.notMatch(cont.lines.join('\n'), /null\)|#null/)

  // on_divergence=stop: the replay ends at the first one.
  const stop = memoryOutput({ json: true })
  t.equal(await runTest(s, testCommand([differs], { controller: butOne, onDivergence: 'stop' }), stop, { env: plainEnv(), graceMs: 100 }), 1)
  t.match(JSON.parse(stop.lines[0] as string), { pass: false, replay: { state: 'diverged', on_divergence: 'stop', divergences: [{ kind: 'DECISION_DIVERGED', exit: 7, seq: 16, line }] } })
})

void t.test('edited traces: an output the recording lacks, and traces the server refuses by their line', async (t) => {
  const s = await server(t)
  const src = golden('implicit-conversions.tdx.ndjson')
  // Exit 7, its decision and the halt taken out: the replay's exit 7 is not in the recording,
  // and is reported at the run line that follows (the recording's next input).
  const exit7 = lineNumber(src, { t: 'exit', seq: 15 })
  const extra = join(dir, 'extra.ndjson')
  writeFileSync(extra, without(src, [exit7, exit7 + 1, lineNumber(src, { t: 'state', reason: 'halted' })]))
  const lines = exit7
  const junit = join(dir, 'extra.xml')
  const out = memoryOutput()
  t.equal(await runTest(s, testCommand([extra], { decide: 'recorded', controller: [], junit }), out, { env: plainEnv() }), 1)
  t.match(out.lines.join('\n'), new RegExp(`SIMULATION_DIVERGED at exit #7 \\(line ${lines}, not in the recording\\): recorded null, actual \\{"t":"exit","seq":15,"exit":\\{`))
  t.match(findAll(parseXml(readFileSync(junit, 'utf8')), 'failure')[0]?.attrs, { message: `SIMULATION_DIVERGED at exit #7 (line ${lines}, not in the recording)`, type: 'SIMULATION_DIVERGED' })

  const truncated = join(dir, 'truncated.ndjson')
  writeFileSync(truncated, readFileSync(src, 'utf8').trimEnd().split('\n').slice(0, -1).join('\n') + '\n')
  const invalid = join(dir, 'invalid.ndjson')
  const text = readFileSync(src, 'utf8').split('\n')
  text[3] = '{"t":"input","op":"run"'
  writeFileSync(invalid, text.join('\n'))
  const preset = join(dir, 'preset.ndjson')
  writeFileSync(preset, readFileSync(src, 'utf8').replace('"preset":"implicit-conversions"', '"preset":"no-such-preset"'))
  const refused = join(dir, 'refused.xml')
  const bad = memoryOutput()
  t.equal(await runTest(s, testCommand([truncated, invalid, preset], { junit: refused }), bad, { env: plainEnv() }), 1)
  t.match(bad.lines.join('\n'), /^ERROR +.*preset\.ndjson .*\n {9}the server refused the trace: FAULTLINE_UNKNOWN_PRESET: .*no-such-preset.*$/m)
  t.match(bad.lines.join('\n'), /^ERROR +.*truncated\.ndjson .*\n {9}the server refused the trace: FAULTLINE_TRACE_TRUNCATED: line \d+: .*[^)]$/m)
  t.match(bad.lines.join('\n'), /^ERROR +.*invalid\.ndjson .*\n {9}the server refused the trace: FAULTLINE_TRACE_INVALID: line 4: .*[^)]$/m)
  t.match(bad.lines.join('\n'), /3 traces: 0 passed, 0 diverged, 3 failed/)
  const errors = findAll(parseXml(readFileSync(refused, 'utf8')), 'error')
  t.match(errors.map((e) => e.attrs.message), [/FAULTLINE_TRACE_TRUNCATED/, /FAULTLINE_TRACE_INVALID/, /FAULTLINE_UNKNOWN_PRESET/])
})

void t.test('a replay VM is an ordinary VM: its exits pending on REST and the stream, ending stopped or killed', async (t) => {
  const s = await server(t)
  for (const [name, end] of [['implicit-conversions.tdx.ndjson', 'stopped'], ['buggy-guest.snp.ndjson', 'killed']] as const) {
    const file = golden(name)
    const recorded = linesOf(file).filter((l) => l.t === 'exit').map((l) => l.exit as ExitMessage)
    const view = await s.client.createReplay(readFileSync(file, 'utf8'), { on_divergence: 'continue' })
    // It waits at the first exit the recorded controller decided, pending as on any VM (the
    // replay runs in the background: the 201 may come before it has driven the VM there).
    let pending = (await s.client.exits(view.vm, { pending: true })).items
    for (let i = 0; i < 200 && pending.length === 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 10))
      pending = (await s.client.exits(view.vm, { pending: true })).items
    }
    t.match(pending, [{ exit: 1, seq: recorded[0]?.seq, reason: recorded[0]?.reason, memory_fault: recorded[0]?.memory_fault }], name)
    t.equal((await s.client.getReplay(view.id)).state, 'waiting')
    const seen: ExitMessage[] = []
    const stream = s.client.stream()
    const ended = await runController({ client: s.client, stream, vm: view.vm, policy: alwaysConvert, onExit: (e) => { seen.push(e) } })
    await stream.close()
    t.same(ended, { reason: 'final', state: end }, `${name}: the controller's work ends with the VM`)
    t.same(seen.map((e) => ({ ...e, vm: 'recorded' })), recorded.map((e) => ({ ...e, vm: 'recorded' })), `${name}: the stream's exits are the recorded ones, pending`)
    t.equal((await s.client.getVm(view.vm)).state, end)
    let replay = await s.client.getReplay(view.id)
    for (let i = 0; i < 100 && replay.finished_at === null; i++) replay = await s.client.getReplay(view.id)
    t.match(replay, { error: null, lines: { total: linesOf(file).length } })
    t.equal(replay.lines.done, replay.lines.total)
    // buggy-guest's recorded VMM killed after the server refused its convert; the replay
    // refuses the controller's convert as any VM does, and its kill is the recorded one.
    t.match(replay, { state: 'passed', divergences: [] }, name)
  }
})

void t.test('faultline decide is a controller test can run (it takes FAULTLINE_VM)', async (t) => {
  const s = await server(t)
  const decide = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'decide', '--policy', 'always-convert']
  const out = memoryOutput()
  const code = await runTest(s, testCommand([golden('implicit-conversions.snp.ndjson'), golden('hwpoison.tdx.ndjson')], { controller: decide }), out, { env: plainEnv() })
  t.equal(code, 0, out.lines.join('\n'))
  t.match(out.lines.join('\n'), /2 traces: 2 passed, 0 diverged, 0 failed/)
})

void t.test('a controller that ends early, one that never decides: reported, and the replay stopped', async (t) => {
  const s = await server(t)
  const trace = golden('hwpoison.snp.ndjson')
  const early = memoryOutput()
  t.equal(await runTest(s, testCommand([trace], { controller: [process.execPath, '-e', 'console.log("bye"); process.exit(4)'] }), early, { env: plainEnv(), pollMs: 20 }), 1)
  t.match(early.lines.join('\n'), /the controller ended \(exit code 4\) before the replay finished \(state waiting\)\n {9}controller: exit code 4\n {9}\| bye/)

  const junit = join(dir, 'stuck.xml')
  const stuck = memoryOutput({ json: true })
  t.equal(await runTest(s, testCommand([trace], { controller: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], timeoutMs: 300, junit }), stuck, { env: plainEnv(), pollMs: 20 }), 1)
  const result = JSON.parse(stuck.lines[0] as string) as { error: string, controller: string, replay: { id: string, vm: string } }
  t.match(result, { error: 'not finished after 300 ms (state waiting)', controller: 'signal SIGTERM' })
  t.match(findAll(parseXml(readFileSync(junit, 'utf8')), 'error')[0]?.attrs.message, /not finished after 300 ms \(state waiting\)/)
  // The runner deleted the replay's VM, which stopped the replay: nothing is left running.
  t.match(await s.client.getReplay(result.replay.id), { state: 'stopped', error: `VM ${result.replay.vm} was deleted` })
  t.same((await s.client.listVms()).items, [])
  t.same((await s.client.listReplays()).map((r) => r.id).slice(-1), [result.replay.id], 'its view is kept')
  await s.client.deleteReplay(result.replay.id)
  await t.rejects(s.client.getReplay(result.replay.id), { statusCode: 404, code: 'FAULTLINE_REPLAY_NOT_FOUND' })
})

const recordCommand = (vm: string, over: Partial<RecordCommand> = {}): RecordCommand => ({ kind: 'record', vm, follow: false, timeoutMs: 10_000, ...over })

void t.test('faultline record --follow -o file of a live VM writes a trace that replays with no divergence', async (t) => {
  const s = await server(t)
  const vm = await s.client.createVm({ type: 'snp', vcpus: 1, preset: 'implicit-conversions', name: 'recorded' })
  await s.client.action(vm.id, 'start')
  const controller = startController(convert, plainEnv({ FAULTLINE_URL: s.url, FAULTLINE_TOKEN: s.token ?? '', FAULTLINE_VM: vm.id }))
  t.teardown(async () => { await controller.stop(0) })
  const file = join(dir, 'recorded.ndjson')
  const env = plainEnv({ FAULTLINE_URL: s.url, FAULTLINE_TOKEN: s.token ?? '' })
  const rec = cli()
  t.equal(await main(['record', 'recorded', '--follow', '-o', file], env, rec.io), 0, rec.text())
  t.equal(await controller.ended, 'exit code 0')
  t.match(rec.text(), new RegExp(`${vm.id} \\(stopped\\): \\d+ records written to `))
  t.equal(traceProblem(readFileSync(file, 'utf8')), undefined)
  t.match(linesOf(file).at(-1), { t: 'end', state: 'stopped' })

  const replayed = cli()
  t.equal(await main(['test', file, '--', ...convert], env, replayed.io), 0, replayed.text())
  t.match(replayed.text(), /^PASS .* {2}exits (\d+)\/\1, decisions (\d+)\/\2 /m)
  t.equal(await main(['test', '--decide', 'recorded', file], env, replayed.io), 0, replayed.text())

  const stdout = memoryOutput()
  t.equal(await runRecord(s, recordCommand(vm.id), stdout), 0)
  t.equal(stdout.lines.join('\n') + '\n', readFileSync(file, 'utf8'), 'the same trace on stdout')

  // A VM that waits for a decision nobody makes does not end.
  const waiting = await s.client.createVm({ type: 'tdx', vcpus: 1, preset: 'hwpoison' })
  await s.client.action(waiting.id, 'start')
  const forever = memoryOutput()
  t.equal(await runRecord(s, recordCommand(waiting.id, { follow: true, timeoutMs: 100 }), forever, { pollMs: 10 }), 1)
  t.match(forever.errors, [new RegExp(`${waiting.id} is still running after 100 ms; nothing written`)])
  const abort = new AbortController()
  abort.abort()
  t.equal(await runRecord(s, recordCommand(waiting.id, { follow: true }), memoryOutput(), { signal: abort.signal }), 130)
  const missing = cli()
  t.equal(await main(['record', 'vm_nope'], env, missing.io), 1)
  t.match(missing.text(), /FAULTLINE_VM_NOT_FOUND/)
  t.equal(traceProblem('nonsense'), 'its first line is not JSON')
  t.match(traceProblem('{"format":"other"}'), /not a faultline-trace\/1 header \(format "other"\)/)
})

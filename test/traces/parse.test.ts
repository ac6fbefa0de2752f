// A trace checked a slice at a time (parseTraceInTurns, what POST /v1/replays uses) is the
// same parse as in one go: the same lines, the same refusals naming the same line (bytes
// that are not UTF-8 anywhere in tens of thousands of lines too), as bytes or as text, a
// byte order mark dropped. It lets the event loop turn between steps, and a replay asked
// of a closing server is refused without a VM.
import t from 'tap'
import { parseTrace, parseTraceInTurns, TraceError } from '../../src/traces/read.js'
import { RECORDER, recordRun } from '../../scripts/record-run.js'
import { setup } from './helpers.js'

const MIB = 1024 * 1024

async function refusal (p: () => unknown): Promise<{ code: string, line: number } | null> {
  try {
    await p()
    return null
  } catch (e) {
    if (!(e instanceof TraceError)) throw e
    return { code: e.code, line: e.line }
  }
}

void t.test('in turns or in one go: the same lines, exit lines kept as text with their tail', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 2, preset: 'conversion-storm' }, maxExits: 400, on: s })
  const whole = parseTrace(run.trace)
  const turns = await parseTraceInTurns(Buffer.from(run.trace), 0)
  t.same(turns, whole)
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(run.trace)])
  t.same(await parseTraceInTurns(bom, 0), whole, 'bytes with a byte order mark: the same')
  const exits = whole.lines.filter(l => l.t === 'exit')
  t.ok(exits.length >= 400, `${exits.length} exit lines`)
  t.ok(exits.every(l => l.t === 'exit' && l.tail !== null && l.tail.startsWith(',"vcpu":')), 'faultline\'s own layout: every exit keeps its tail')
})

void t.test('the same refusals, on the same line, in turns or in one go', async t => {
  const header = '{"t":"header","format":"faultline-trace/1"}'
  const filler = (n: number): string[] => Array.from({ length: n }, () => '{"t":"input","op":"run","vcpu":0,"budget":1}')
  // About 47 bytes a line: 30,000 lines are past the first MiB decoded.
  const rows = [header, ...filler(30_000)]
  const cases: Array<[string, Buffer, string, number]> = []
  /** The rows with line k replaced by one holding `bad` bytes, at byte `offset` of the trace if given. */
  const at = (k: number, bad: number[], offset?: number): Buffer => {
    const before = Buffer.from(rows.slice(0, k - 1).join('\n') + '\n')
    const after = Buffer.from('\n' + rows.slice(k).join('\n') + '\n')
    const pad = offset === undefined ? 1 : offset - before.length - 6
    const out = Buffer.concat([before, Buffer.from('{"t":"' + 'x'.repeat(pad)), Buffer.from(bad), Buffer.from('"}'), after])
    if (offset !== undefined && out[offset] !== bad[0]) throw new Error('the bad bytes are not where the test wants them')
    return out
  }
  cases.push(['a bad byte early', at(3, [0xff]), 'TRACE_INVALID', 3])
  cases.push(['a bad byte past the first MiB', at(25_000, [0xff]), 'TRACE_INVALID', 25_000])
  // A three-byte sequence broken by its third byte, at the first MiB.
  let bytes = 0
  const k = rows.findIndex(r => (bytes += r.length + 1) > MIB - 100) + 1
  cases.push(['a broken sequence', at(k, [0xe2, 0x82, 0x41], MIB - 2), 'TRACE_INVALID', k])
  cases.push(['a sequence cut at the very end', Buffer.concat([Buffer.from(rows.join('\n') + '\n'), Buffer.from([0xe2, 0x82])]), 'TRACE_INVALID', rows.length + 1])
  cases.push(['valid bytes: the header is checked first', Buffer.from(rows.join('\n') + '\n'), 'TRACE_INVALID', 1])
  cases.push(['an empty trace', Buffer.from('\n'), 'TRACE_INVALID', 1])
  for (const [name, raw, code, line] of cases) {
    const whole = await refusal(() => parseTrace(raw))
    const turns = await refusal(async () => await parseTraceInTurns(raw, 0))
    t.same(turns, whole, `${name}: the same in turns`)
    t.same(whole, { code, line }, name)
  }
})

void t.test('the event loop turns while a trace is checked in turns', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, preset: 'conversion-storm' }, maxExits: 300, on: s })
  const lines = run.trace.trimEnd().split('\n').length
  let turns = 0
  let counting = true
  const count = (): void => { if (counting) { turns++; setImmediate(count) } }
  setImmediate(count)
  // A slice of 0: every step of 16 lines gives the loop a turn.
  const parsed = await parseTraceInTurns(run.trace, 0)
  counting = false
  t.equal(parsed.lines.length, lines - 1)
  t.ok(turns >= Math.floor(lines / 16) - 1, `${turns} turns of the loop for ${lines} lines`)
  turns = 0
  counting = true
  setImmediate(count)
  parseTrace(run.trace)
  counting = false
  t.equal(turns, 0, 'in one go it holds the loop')
})

void t.test('createInTurns: refused before the trace is read, or when the server closes meanwhile', async t => {
  const s = setup(t)
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, preset: 'tdx-boot' }, maxExits: 40, on: s })
  await t.rejects(s.traces.createInTurns({ tenant: 'traces', role: 'observer', id: 'o' }, 'not even a trace'), { code: 'FORBIDDEN' })
  const vms = s.control.listVms(RECORDER).items.length
  const pending = s.traces.createInTurns(RECORDER, run.trace, { decide: 'recorded' })
  s.traces.close()
  await t.rejects(pending, { code: 'NOT_READY' })
  t.equal(s.control.listVms(RECORDER).items.length, vms, 'no VM made')
  const view = await setup(t).traces.createInTurns(RECORDER, run.trace, { decide: 'recorded' })
  t.equal(view.state, 'running', 'an open server starts it')
})

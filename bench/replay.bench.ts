// Replay speed: a 100,000-exit run of a TDX guest (conversion-storm's random steps, for
// ever, one vCPU), decided by
// always-convert a turn of the event loop after each exit as a controller would, recorded;
// then its trace replayed with decide=recorded, which drives the VM by the trace and
// compares every exit and decision. Target: the replay is at least as fast as the live run
// (exits per second), so a recorded run costs no more CI time than making it did. Five
// alternated rounds (BENCH_REPLAY_ROUNDS), each on a fresh Control; medians.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Control } from '../src/control/index.js'
import { Traces } from '../src/traces/service.js'
import { RECORDER, recordRun } from '../scripts/record-run.js'
import { median, report } from './lib/report.js'

const EXITS = 100_000
/**
 * Alternated rounds (record, then replay), reported as medians: the live run alone moves by
 * up to 30% between rounds of one run, and with three rounds two runs of the same code gave
 * medians of per-round ratios of 0.75x and 1.10x.
 */
const ROUNDS = Number(process.env.BENCH_REPLAY_ROUNDS ?? 5)
const MIB = 1024 * 1024
const POLL_MS = 5
const program = [{
  op: 'repeat',
  forever: true,
  body: [{ op: 'random', count: 10_000, gpa: 1024 * MIB, size: 4 * MIB, private_ratio: 0.5, write_ratio: 0.5, map_ratio: 0.5 }]
}]

interface Round { live: number, replay: number }

async function round (i: number): Promise<Round> {
  // Room for the whole run in the trace journal (the defaults keep the last 10,000 events):
  // two events an exit and a few states. A fresh server each round.
  const control = new Control({ limits: { journalEvents: 2 * EXITS + 16, journalBytes: 1024 * 1024 * 1024 } })
  const traces = new Traces(control, { version: 'bench' })
  process.stderr.write(`  round ${i + 1}/${ROUNDS}: recording the live run...\n`)
  let t0 = performance.now()
  const run = await recordRun({ body: { type: 'tdx', vcpus: 1, memory: { size_mib: 2048 }, program }, maxExits: EXITS, on: { control, traces } })
  const liveMs = performance.now() - t0
  process.stderr.write(`  round ${i + 1}/${ROUNDS}: replaying ${(run.trace.length / 2 ** 20).toFixed(0)} MiB of trace...\n`)
  t0 = performance.now()
  // As POST /v1/replays does it: the trace checked a slice at a time between turns.
  const view = await traces.createInTurns(RECORDER, run.trace, { decide: 'recorded' })
  let v = view
  // Looked at as a client would, every few ms (a view on every turn of the loop, every 0.05
  // ms of replay, was 4% of the replay's time); at most POLL_MS late on seconds.
  while (v.finished_at === null) {
    await sleep(POLL_MS)
    v = traces.get(RECORDER, view.id)
  }
  const replayMs = performance.now() - t0
  if (v.state !== 'passed' || v.exits.replayed !== run.exits) throw new Error(`the replay did not pass: ${JSON.stringify({ ...v, divergences: v.divergences.slice(0, 2) })}`)
  traces.close()
  control.close()
  return { live: run.exits / (liveMs / 1000), replay: run.exits / (replayMs / 1000) }
}

const rounds: Round[] = []
for (let i = 0; i < ROUNDS; i++) rounds.push(await round(i))
const live = median(rounds.map(r => r.live))
const replay = median(rounds.map(r => r.replay))
const ratio = median(rounds.map(r => r.replay / r.live))
report(`trace replay, ${EXITS} exits (TDX random conversions and accesses, one vCPU, always-convert), median of ${ROUNDS} alternated rounds`, [
  {
    name: 'replay, decide=recorded (parse, drive, compare)',
    value: replay,
    unit: 'exits/s',
    baseline: { name: 'the live run it replays', value: live },
    target: `>= 1x the live run (median of per-round ratios: ${ratio.toFixed(2)}x)`,
    pass: ratio >= 1
  }
])
console.log(`    rounds (replay / live, k exits/s): ${rounds.map(r => `${(r.replay / 1000).toFixed(1)} / ${(r.live / 1000).toFixed(1)}`).join(', ')}`)

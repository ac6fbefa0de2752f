// `npm run bench`: runs every bench/*.bench.ts in its own process, one after another (the
// machines have 2 cores; running them together would measure contention), and prints each
// one's report. A suite's own process keeps one suite's garbage from slowing the next.
// `npm run bench -- <name>` runs the suites whose file name contains <name>. Every figure
// also goes, as JSON lines, to bench/results/<time>.ndjson (gitignored).
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const suites = readdirSync(here).filter(f => f.endsWith('.bench.ts')).sort()
  .filter(f => only.length === 0 || only.some(o => f.includes(o)))

console.log(`# faultline benchmarks\n\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`)
const resultsDir = join(here, 'results')
mkdirSync(resultsDir, { recursive: true })
const results = join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson`)
console.log(`results: ${results}`)
let failed = 0
const started = Date.now()
const seconds = (from: number): string => `${Math.round((Date.now() - from) / 1000)} s`
for (const [i, f] of suites.entries()) {
  process.stderr.write(`[${i + 1}/${suites.length}] ${f} (${seconds(started)} so far)\n`)
  const t0 = Date.now()
  const env = { ...process.env, BENCH_RESULTS: results, BENCH_SUITE: f.replace(/\.bench\.ts$/, '') }
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, f)], { stdio: 'inherit', env })
  // A suite exits 1 when a figure misses its target: reported, and the next suite runs.
  if (r.status !== 0) { failed++; console.log(`\n${f} exited with ${r.status ?? r.signal}`) }
  process.stderr.write(`[${i + 1}/${suites.length}] ${f} done in ${seconds(t0)}\n`)
}
console.log(`\n${suites.length} suites in ${seconds(started)}; ${failed} with a figure that missed its target (or failed). Results: ${results}`)
process.exit(failed > 0 ? 1 : 0)

// Shared benchmark helpers: timing, medians, progress on stderr, and results drawn in the
// terminal (bar charts and histograms), so each figure sits beside its baseline. Every
// section is also appended as one JSON line to the run's results file (bench/run.ts sets
// BENCH_RESULTS, under bench/results/), for machines to read.
import { appendFileSync } from 'node:fs'

export const median = (xs: number[]): number => percentile(xs, 50)

export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  return s[i] as number
}

/** Runs `fn` `rounds` times (after one warm-up) and returns each round's seconds. */
export function timeRounds (rounds: number, fn: () => void): number[] {
  fn()
  const out: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    fn()
    out.push(Number(process.hrtime.bigint() - t0) / 1e9)
  }
  return out
}

export function progress (label: string, done: number, total: number): void {
  if (!process.stderr.isTTY && done !== total && done % Math.max(1, Math.floor(total / 4)) !== 0) return
  const width = 24
  const filled = Math.round((done / total) * width)
  process.stderr.write(`\r  ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`)
}

export interface Row {
  name: string
  value: number
  unit: string
  /** The baseline measured in the same run, for the ratio. */
  baseline?: { name: string, value: number }
  /** e.g. "< 10 µs" or ">= 0.8x baseline"; `pass` says whether this run met it. */
  target?: string
  pass?: boolean
}

export function fmt (v: number): string {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G'
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M'
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k'
  if (a >= 100) return v.toFixed(0)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(3)
}

/**
 * Prints a section as a table and a bar chart of value against baseline. A row that misses
 * its target makes the suite's process exit 1, so `npm run bench` counts it (run.ts).
 */
export function report (title: string, rows: Row[]): void {
  if (rows.some(r => r.pass === false)) process.exitCode = 1
  const lines: string[] = [`\n## ${title}`, '', '| measure | value | baseline (same run) | ratio | target | met |', '|---|---|---|---|---|---|']
  for (const r of rows) {
    const ratio = r.baseline !== undefined ? r.value / r.baseline.value : undefined
    lines.push(`| ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.baseline !== undefined ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : '-'} | ${ratio !== undefined ? ratio.toFixed(2) + 'x' : '-'} | ${r.target ?? '-'} | ${r.pass === undefined ? '-' : r.pass ? 'yes' : 'NO'} |`)
  }
  lines.push('')
  for (const r of rows) {
    if (r.baseline === undefined) continue
    const max = Math.max(r.value, r.baseline.value)
    const bar = (v: number): string => '█'.repeat(Math.max(1, Math.round((v / max) * 40)))
    lines.push(`    ${r.name.padEnd(36).slice(0, 36)} ${bar(r.value)} ${fmt(r.value)}`)
    lines.push(`    ${('  vs ' + r.baseline.name).padEnd(36).slice(0, 36)} ${bar(r.baseline.value)} ${fmt(r.baseline.value)}`)
  }
  console.log(lines.join('\n'))
  const file = process.env.BENCH_RESULTS
  if (file !== undefined && file !== '') {
    const out = rows.map(r => ({ ...r, ratio: r.baseline !== undefined ? r.value / r.baseline.value : null }))
    appendFileSync(file, JSON.stringify({ at: new Date().toISOString(), suite: process.env.BENCH_SUITE ?? null, title, rows: out }) + '\n')
  }
}

/** Draws a latency distribution as a horizontal histogram (log-spaced buckets). */
export function histogram (title: string, samplesUs: number[], buckets = 12): void {
  if (samplesUs.length === 0) return
  const lo = Math.max(1e-3, Math.min(...samplesUs))
  const hi = Math.max(...samplesUs)
  const edges: number[] = []
  for (let i = 0; i <= buckets; i++) edges.push(lo * Math.pow(hi / lo, i / buckets))
  const counts = new Array<number>(buckets).fill(0)
  for (const s of samplesUs) {
    let b = edges.findIndex((e, i) => i > 0 && s <= e) - 1
    if (b < 0) b = buckets - 1
    counts[b] = (counts[b] ?? 0) + 1
  }
  const peak = Math.max(...counts)
  const lines = [`\n    ${title} (µs, n=${samplesUs.length}, p50 ${fmt(median(samplesUs))}, p99 ${fmt(percentile(samplesUs, 99))})`]
  for (let i = 0; i < buckets; i++) {
    const c = counts[i] ?? 0
    lines.push(`    ${fmt(edges[i] as number).padStart(7)}-${fmt(edges[i + 1] as number).padEnd(7)} ${'▇'.repeat(Math.round((c / peak) * 40))} ${c}`)
  }
  console.log(lines.join('\n'))
}

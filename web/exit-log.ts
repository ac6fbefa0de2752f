// One VM's exits as the page knows them: merged from the journal (REST) and the stream in
// any order, each exit once, a decision never undone; plus the exit rate per second and
// the decision latency seen from this page. No DOM, so tests run it in Node.
import type { DecidedBy, DecisionAction, ExitFields, JournalExit } from '../src/client/types.js'

export interface ExitRow {
  exit: ExitFields
  decision: { action: DecisionAction, by: DecidedBy } | null
  /** When the stream brought it (ms), or null when it came from the journal. */
  seenAt: number | null
}

const RATE_SECONDS = 60
const LATENCIES = 60

export class ExitLog {
  /** Decided rows kept beyond the pending ones. */
  private readonly keep: number
  private readonly rows = new Map<number, ExitRow>()
  private readonly buckets = new Float64Array(RATE_SECONDS)
  private second = 0
  private readonly latencies: number[] = []

  constructor (keep = 500) { this.keep = keep }

  /** An exit from the stream (now = arrival time) or the journal (now = null). */
  addExit (exit: ExitFields, now: number | null): void {
    if (this.rows.has(exit.exit)) return
    this.rows.set(exit.exit, { exit, decision: null, seenAt: now })
    if (now !== null) {
      this.roll(now)
      this.buckets[this.second % RATE_SECONDS] = (this.buckets[this.second % RATE_SECONDS] as number) + 1
    }
    this.trim()
  }

  /** A decision; its latency counts when this page saw the exit arrive. */
  addDecision (exit: number, action: DecisionAction, by: DecidedBy, now: number | null): void {
    const row = this.rows.get(exit)
    if (row === undefined || row.decision !== null) return
    row.decision = { action, by }
    if (now !== null && row.seenAt !== null) {
      this.latencies.push(now - row.seenAt)
      if (this.latencies.length > LATENCIES) this.latencies.shift()
    }
  }

  addJournal (items: readonly JournalExit[]): void {
    for (const item of items) {
      this.addExit(item, null)
      if (item.decision !== null) this.addDecision(item.exit, item.decision.action, item.decision.by, null)
    }
  }

  /** Pending exits, oldest first. */
  pending (): ExitRow[] {
    return [...this.rows.values()].filter(r => r.decision === null).sort((a, b) => a.exit.exit - b.exit.exit)
  }

  /** The newest exits first. */
  recent (limit: number): ExitRow[] {
    return [...this.rows.values()].sort((a, b) => b.exit.exit - a.exit.exit).slice(0, limit)
  }

  get size (): number { return this.rows.size }

  /** Exits per second over the last minute, oldest first, up to `now`. */
  rates (now: number): number[] {
    this.roll(now)
    const out: number[] = []
    for (let i = 1; i <= RATE_SECONDS; i++) out.push(this.buckets[(this.second + i) % RATE_SECONDS] as number)
    return out
  }

  /** The last decision latencies seen, ms, oldest first. */
  latency (): number[] { return [...this.latencies] }

  /** Moves the rate window to now, zeroing the seconds that passed with no exit. */
  private roll (now: number): void {
    const s = Math.floor(now / 1000)
    if (this.second === 0) this.second = s
    const steps = Math.min(s - this.second, RATE_SECONDS)
    for (let i = 1; i <= steps; i++) this.buckets[(this.second + i) % RATE_SECONDS] = 0
    if (s > this.second) this.second = s
  }

  /** Drops the oldest decided rows past `keep`; pending ones stay, they still need an answer. */
  private trim (): void {
    if (this.rows.size <= this.keep * 2) return
    const decided = [...this.rows.values()].filter(r => r.decision !== null).sort((a, b) => a.exit.exit - b.exit.exit)
    for (const r of decided.slice(0, Math.max(0, decided.length - this.keep))) this.rows.delete(r.exit.exit)
  }
}

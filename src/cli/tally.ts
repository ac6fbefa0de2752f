// Running counts for the watch view, the decide loop and the demo: exits by reason,
// decisions by action, conversions, the last state, and decision round-trip times.
import type { DecidedMessage, ExitFields, StateMessage } from '../client/types.js'
import { shortReason } from './format.js'

const bump = (map: Map<string, number>, key: string): void => { map.set(key, (map.get(key) ?? 0) + 1) }

/** Nearest-rank percentile of unsorted samples; NaN with none. */
export function percentile (samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

export class Tally {
  readonly exitsByReason = new Map<string, number>()
  readonly decisionsByAction = new Map<string, number>()
  /** Decisions seen per (reason, action), e.g. "MEMORY_FAULT convert". */
  readonly decisionsByReason = new Map<string, number>()
  readonly roundTripsMs: number[] = []
  exits = 0
  decided = 0
  conversions = 0
  state: string | undefined
  private readonly reasonOfExit = new Map<string, string>()

  exit (e: ExitFields): void {
    this.exits++
    bump(this.exitsByReason, shortReason(e.reason))
    this.reasonOfExit.set(`${e.vm}/${e.exit}`, shortReason(e.reason))
  }

  decidedEvent (d: Pick<DecidedMessage, 'vm' | 'exit' | 'action'>): void {
    this.decided++
    bump(this.decisionsByAction, d.action)
    if (d.action === 'convert') this.conversions++
    const key = `${d.vm}/${d.exit}`
    const reason = this.reasonOfExit.get(key)
    this.reasonOfExit.delete(key)
    if (reason !== undefined) bump(this.decisionsByReason, `${reason} ${d.action}`)
  }

  stateEvent (s: Pick<StateMessage, 'state'>): void { this.state = s.state }

  roundTrip (ms: number): void { this.roundTripsMs.push(ms) }

  /** "exits 12 (MEMORY_FAULT 7, HYPERCALL 5) | decided 12 (convert 12) | conversions 12 | running" */
  line (): string {
    const list = (m: Map<string, number>): string => m.size === 0 ? '' : ` (${[...m].map(([k, v]) => `${k} ${v}`).join(', ')})`
    const parts = [
      `exits ${this.exits}${list(this.exitsByReason)}`,
      `decided ${this.decided}${list(this.decisionsByAction)}`,
      `conversions ${this.conversions}`
    ]
    if (this.state !== undefined) parts.push(this.state)
    return parts.join(' | ')
  }
}

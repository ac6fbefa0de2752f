// Counters of what control/ did since start, for /metrics (src/plugins/metrics.ts reads them
// at scrape time). Plain numbers in fixed arrays indexed by bounded enums: one exit or one
// decision costs a few increments and no allocation.
import type { DecidedBy } from '../../schemas/common.js'
import type { ExitRecord, ExitReasonName } from '../kvm/index.js'
import {
  EXIT_REASON_NAMES, KVM_EXIT_HYPERCALL, KVM_EXIT_MEMORY_FAULT, KVM_HC_MAP_GPA_RANGE,
  KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEMORY_EXIT_FLAG_PRIVATE, PAGE_SIZE
} from '../kvm/index.js'

export const EXIT_REASONS: readonly ExitReasonName[] = Object.values(EXIT_REASON_NAMES)
export const DECISION_ACTIONS = ['convert', 'resume', 'kill'] as const
export type DecisionAction = typeof DECISION_ACTIONS[number]
export const DECISION_SOURCES: readonly DecidedBy[] = ['controller', 'rest', 'rule', 'timeout']
export const CONVERT_DIRECTIONS = ['to_private', 'to_shared'] as const

/** Upper bounds (seconds) of the decision latency buckets: a rule's microseconds to a timeout's minutes. */
export const LATENCY_BUCKETS: readonly number[] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** A histogram as Prometheus keeps it: per bucket the observations <= its bound, plus sum and count. */
export interface LatencyHistogram {
  /** counts[i] observations fell in (LATENCY_BUCKETS[i-1], LATENCY_BUCKETS[i]]; the last slot is +Inf. */
  readonly counts: number[]
  sum: number
  count: number
}

/**
 * What a convert of this exit would convert, signed: +bytes to private, -bytes to shared,
 * 0 for an exit that convert does not apply to (docs/spec/kvm-abi.md: memory faults and
 * KVM_HC_MAP_GPA_RANGE). Kept on the pending exit so the decision needs no lookup.
 */
export function convertSpan (r: ExitRecord): number {
  if (r.exit_reason === KVM_EXIT_MEMORY_FAULT && r.memory_fault !== undefined) {
    const mf = r.memory_fault
    return (mf.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) !== 0 ? mf.size : -mf.size
  }
  if (r.exit_reason === KVM_EXIT_HYPERCALL && r.hypercall?.nr === KVM_HC_MAP_GPA_RANGE) {
    const size = (r.hypercall.args[1] ?? 0) * PAGE_SIZE
    return ((r.hypercall.args[2] ?? 0) & KVM_MAP_GPA_RANGE_ENCRYPTED) !== 0 ? size : -size
  }
  return 0
}

export class ControlStats {
  /** Exits by reason, indexed as EXIT_REASONS. */
  readonly exits: number[] = EXIT_REASONS.map(() => 0)
  /** Decisions, [action][source] indexed as DECISION_ACTIONS and DECISION_SOURCES. */
  readonly decisions: number[][] = DECISION_ACTIONS.map(() => DECISION_SOURCES.map(() => 0))
  /** Decision latency (exit published to decision applied) by source. */
  readonly latency: LatencyHistogram[] = DECISION_SOURCES.map(() => ({ counts: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }))
  /** Convert decisions and the bytes they converted, indexed as CONVERT_DIRECTIONS. */
  readonly conversions: number[] = [0, 0]
  readonly convertedBytes: number[] = [0, 0]

  exit (reason: ExitReasonName): void {
    const i = EXIT_REASONS.indexOf(reason)
    if (i >= 0) (this.exits[i] as number)++
  }

  /**
   * One decision recorded: `seconds` since its exit was published; `span` is the exit's
   * convertSpan (counted only for a convert).
   */
  decision (action: DecisionAction, by: DecidedBy, seconds: number, span: number): void {
    const a = DECISION_ACTIONS.indexOf(action)
    const s = DECISION_SOURCES.indexOf(by)
    const row = this.decisions[a]
    const h = this.latency[s]
    if (row === undefined || h === undefined) return
    row[s] = (row[s] as number) + 1
    let b = 0
    while (b < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[b] as number)) b++
    h.counts[b] = (h.counts[b] as number) + 1
    h.sum += seconds
    h.count++
    if (action === 'convert' && span !== 0) {
      const d = span > 0 ? 0 : 1
      this.conversions[d] = (this.conversions[d] as number) + 1
      this.convertedBytes[d] = (this.convertedBytes[d] as number) + Math.abs(span)
    }
  }
}

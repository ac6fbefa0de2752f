// control/'s own shapes: its events, the injected clock and logger, and the limits it
// enforces. What crosses the wire (views, policies, decision records) is the contract's,
// from schemas/; what control/ keeps of a VM is in record.ts.
import type { CreateVmBody } from '../../schemas/vm.js'

/** The request body of POST /v1/vms, after schema validation. */
export type CreateVmInput = CreateVmBody

/**
 * One event of a VM, encoded once: `frame` is the exact JSON text of the contract's
 * message, sent as is to every subscriber.
 */
export interface ControlEvent {
  vm: string
  tenant: string
  seq: number
  type: 'exit' | 'decided' | 'state'
  exit?: number
  /** The VM's last event (state `deleted`): subscribers drop the VM after it. */
  deleted?: true
  frame: string
}

export type EventFilter = { vm: string } | { tenant: string } | { all: true }
export type EventListener = (event: ControlEvent) => void

/** Time, injected so that decision timeouts can be tested with a fake clock. */
export interface Clock {
  now (): number
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (handle: unknown): void
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => { clearTimeout(h as NodeJS.Timeout) }
}

/** What a careful operator bounds; each one is an env var (src/config.ts). */
export interface Limits {
  /** vCPUs per VM (the contract allows 1..256). */
  maxVcpus: number
  maxMemslots: number
  /** Instructions in a program, counted through repeat bodies. */
  maxProgramOps: number
  maxVmsPerTenant: number
  /** Events kept per VM for replay, and exits kept per VM for GET .../exits. */
  journalEvents: number
  /** Bytes of event frames kept per VM, in the journal and in the exit log, beside the counts. */
  journalBytes: number
  /** Events (and exits, and trace lines) all VMs together keep, split per tenant, then per VM (journal-budget.ts). */
  journalTotalEvents: number
  /**
   * Work units (an op, a page checked, a page populated) one vCPU runs per scheduler slice
   * before the next vCPU gets its turn.
   */
  runBudget: number
  /** Attribute and backing extents a VM may hold; past it the VM is paused (reason limit:extents). */
  maxExtentsPerVm: number
  /** VMs on the server, every tenant's together. */
  maxVms: number
}

export const DEFAULT_LIMITS: Limits = {
  maxVcpus: 256,
  maxMemslots: 32,
  maxProgramOps: 10_000,
  maxVmsPerTenant: 100,
  journalEvents: 10_000,
  journalBytes: 4 * 1024 * 1024,
  journalTotalEvents: 250_000,
  runBudget: 1024,
  maxExtentsPerVm: 65_536,
  maxVms: 1000
}

/** Enough of pino's logger for control/ (a real pino logger fits). */
export interface ControlLogger {
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

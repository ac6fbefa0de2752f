// control/'s public data shapes: what commands take and what views, events and journal
// entries look like. Everything is plain JSON-able data so that a later store can persist
// it and a restart can rebuild it (with Vm.snapshot for the core's part).
import type { Decision, ExitRecord, MemslotConfig, VmType } from '../kvm/types.js'
import type { ExitReasonName } from '../kvm/constants.js'

export type VmState = 'created' | 'running' | 'paused' | 'stopped' | 'killed' | 'crashed'
export type VmAction = 'start' | 'pause' | 'resume' | 'stop' | 'kill' | 'reset'
export type DecisionAction = Decision['action']
/** Who decided an exit, as the `decided` event says. */
export type DecidedBy = 'controller' | 'rest' | 'rule' | 'timeout'

/** A rule decides a matching exit inside the server; first match wins. */
export interface PolicyRule {
  /** The KVM exit name, e.g. KVM_EXIT_IO. */
  reason: ExitReasonName
  action: DecisionAction
  /** Match only memory faults whose KVM_RUN errno is this. */
  errno?: 'EFAULT' | 'EHWPOISON'
  /** Match only exits that ask for private (true) or shared (false) memory. */
  private?: boolean
  /** resume: hypercall.ret to return to the guest. */
  ret?: number
  /** resume: the data for an IN or MMIO read. */
  data?: number[]
}

export interface Policy {
  decision_timeout_ms: number | null
  on_timeout: DecisionAction
  rules: PolicyRule[]
}

/** The request body of POST /v1/vms, after schema validation (schemas/vm.ts). */
export interface CreateVmInput {
  name?: string
  type: VmType
  vcpus: number
  /** Required unless a preset gives the layout. */
  memory?: { slots: MemslotConfig[] } | { size_mib: number }
  initial_attributes?: 'private' | 'shared'
  gpaw?: 48 | 52
  /** Checked by the core's validateProgram, which names the failing field. */
  program?: unknown[]
  preset?: string
  seed?: number
  policy?: Partial<Policy>
  autostart?: boolean
}

export interface VmCounters {
  /** Exits the VM's vCPUs produced. */
  exits: number
  /** Exits waiting for a decision now. */
  pending: number
  decisions: number
  by_rule: number
  by_timeout: number
  /** Guest memory accesses that completed without an exit (summed over vCPUs). */
  accesses: number
  hypercall_errors: number
  machine_checks: number
  interrupts: number
}

/** GET /v1/vms/{vm}. */
export interface VmView {
  id: string
  name: string | null
  type: VmType
  state: VmState
  /** Why the VM is in its state: an action, "halted", "decision", or a system event name. */
  state_reason: string
  vcpus: number
  memslots: MemslotConfig[]
  initial_attributes: 'private' | 'shared'
  gpaw?: 48 | 52
  seed: number
  preset: string | null
  program_length: number
  policy: Policy
  counters: VmCounters
  /** The VM's latest event sequence number (0 = nothing yet). */
  seq: number
  created_at: string
}

/** How an exit was decided, as the journal keeps it. */
export interface DecisionRecord {
  action: DecisionAction
  by: DecidedBy
  /** The seq of the `decided` event. */
  seq: number
  ret?: number
  data?: number[]
  reason?: string
}

/** The wire form of an exit (the stream's `exit` message). */
export type ExitMessage = { type: 'exit', vm: string, seq: number } & ExitRecord

/** One item of GET /v1/vms/{vm}/exits: the exit as the stream sends it, with its decision. */
export type ExitView = ExitMessage & { decision: DecisionRecord | null }

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
  /** Steps one vCPU runs per scheduler slice before the next vCPU gets its turn. */
  runBudget: number
}

export const DEFAULT_LIMITS: Limits = {
  maxVcpus: 256,
  maxMemslots: 32,
  maxProgramOps: 10_000,
  maxVmsPerTenant: 100,
  journalEvents: 10_000,
  runBudget: 4096
}

/** Enough of pino's logger for control/ (a real pino logger fits). */
export interface ControlLogger {
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

export interface Page<T> { items: T[], next: string | null }

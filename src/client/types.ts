// The wire types of the faultline v1 contract (shared/spec/api-v1.md) for the client. It
// must stay importable without Fastify or any server code, so it takes from src/kvm only
// type-only imports of plain data shapes. Field names are the contract's (kvm_run names).

import type { ExitReasonName as ExitReason } from '../kvm/constants.js'
import type {
  ExitRecord, Hypercall, Io, MemoryFault, MemslotConfig as Memslot, Mmio, RunResult, SystemEvent, VmType
} from '../kvm/types.js'

export type { VmType }
export type VmState = 'created' | 'running' | 'paused' | 'stopped' | 'killed' | 'crashed'
export type VmAction = 'start' | 'pause' | 'resume' | 'stop' | 'kill' | 'reset'
export type DecisionAction = 'convert' | 'resume' | 'kill'
export type Role = 'controller' | 'observer'
/** Who decided an exit. */
export type DecidedBy = 'controller' | 'rest' | 'rule' | 'timeout'

/** The KVM names of exit reasons as they cross the wire in `reason`. */
export type { ExitReason }

// ---- REST bodies -------------------------------------------------------------------------

export type { Memslot }

/** `{ slots }` names every memslot; `{ size_mib }` is one slot at gpa 0. */
export type MemoryConfig = { slots: Memslot[] } | { size_mib: number }

export interface PolicyRule {
  reason: ExitReason | string
  action: DecisionAction
  [field: string]: unknown
}

/** Server-side policy of a VM: every field optional (api-v1.md "VM body"). */
export interface VmPolicy {
  decision_timeout_ms?: number | null
  on_timeout?: DecisionAction
  rules?: PolicyRule[]
}

/** A guest program instruction; see docs/programs.md for every op and its fields. */
export interface Instruction { op: string, [field: string]: unknown }

/** POST /v1/vms */
export interface CreateVmRequest {
  name?: string
  type: VmType
  vcpus: number
  /** Required unless the preset gives it. */
  memory?: MemoryConfig
  initial_attributes?: 'private' | 'shared'
  gpaw?: 48 | 52
  program?: Instruction[]
  preset?: string
  seed?: number
  policy?: VmPolicy
  autostart?: boolean
}

/** One VM as the server returns it (GET /v1/vms/{vm}). */
export interface VmInfo {
  id: string
  name: string | null
  type: VmType
  state: VmState
  /** Why the VM is in its state (e.g. what killed it). */
  state_reason?: string
  vcpus: number
  memslots: Memslot[]
  initial_attributes?: 'private' | 'shared'
  gpaw?: 48 | 52
  seed?: number
  preset?: string | null
  program_length?: number
  policy: VmPolicy
  counters: Record<string, number>
  /** The VM's latest event seq (0 = none yet). */
  seq?: number
  created_at?: string
  [field: string]: unknown
}

/** Every list: a page of items and the cursor of the next page, null on the last. */
export interface Page<T> { items: T[], next: string | null }

export interface ListOptions { limit?: number, cursor?: string }
export interface ExitListOptions extends ListOptions {
  /** The exit journal after this seq. */
  since?: number
  /** Only exits still waiting for a decision. */
  pending?: boolean
}

export interface AttributeExtent { gpa: number, size: number, attributes: number }

/** Backing state extents (extension): which backing holds populated pages, and poison. */
export interface BackingExtent extends AttributeExtent {
  shared_populated: boolean
  private_populated: boolean
  poisoned: boolean
}

/** KVM_SET_MEMORY_ATTRIBUTES argument (struct kvm_memory_attributes). */
export interface SetMemoryAttributesRequest {
  address: number
  size: number
  attributes: number
  flags: number
}

export interface VcpuInfo {
  id: number
  state: string
  pending_exit: number | null
  counters: Record<string, number>
  [field: string]: unknown
}

/** A built-in guest program (GET /v1/presets), as the core defines it. */
export type { Preset } from '../kvm/program/presets.js'

/** The optional fields of a decision: hypercall ret, IN/MMIO read data, a note. */
export interface DecisionOptions {
  ret?: number
  data?: number[]
  reason?: string
}
export interface DecisionRequest extends DecisionOptions { action: DecisionAction }

/** A decision as recorded in the exit journal. */
export interface RecordedDecision extends DecisionOptions {
  action: DecisionAction
  by: DecidedBy
  /** The seq of the `decided` event. */
  seq?: number
  [field: string]: unknown
}

// ---- exit payloads (kvm_run names) -------------------------------------------------------

// The payloads are the core's own types (imported at the top).
export type { Hypercall, Io, MemoryFault, Mmio, RunResult, SystemEvent }

/** One exit: the fields every exit has and the payload named as in kvm_run. */
/**
 * One exit as the core records it (exit id per VM from 1, never reused; a stale
 * memory_fault is valid only when run.ret is -1 and exit_reason is KVM_EXIT_MEMORY_FAULT),
 * plus the VM and its event seq.
 */
export interface ExitFields extends ExitRecord {
  vm: string
  seq: number
}

/** An exit in the journal (GET /v1/vms/{vm}/exits): the stream's exit plus its decision. */
export interface JournalExit extends ExitFields {
  type?: 'exit'
  decision: RecordedDecision | null
}

// ---- stream messages ---------------------------------------------------------------------

export interface HelloMessage { type: 'hello', protocol: number, server: string }
export interface SubscribedMessage { type: 'subscribed', id?: MessageId, vm: string, role: Role, seq: number }
export interface ExitMessage extends ExitFields { type: 'exit' }
export interface DecidedMessage {
  type: 'decided', vm: string, exit: number, seq: number, action: DecisionAction, by: DecidedBy
}
export interface StateMessage { type: 'state', vm: string, seq: number, state: VmState, reason?: string | null }
export interface RevokedMessage { type: 'revoked', vm: string }
export interface AckMessage { type: 'ack', id: MessageId, [field: string]: unknown }
export interface ErrorMessage {
  type: 'error'
  id?: MessageId
  code: string
  message: string
  vm?: string
  exit?: number
}

export type MessageId = string | number

export type ServerMessage =
  | HelloMessage | SubscribedMessage | ExitMessage | DecidedMessage | StateMessage
  | RevokedMessage | AckMessage | ErrorMessage

export interface SubscribeMessage {
  type: 'subscribe'
  id?: MessageId
  vm: string
  role: Role
  since?: number
  takeover?: boolean
}
export interface UnsubscribeMessage { type: 'unsubscribe', id?: MessageId, vm: string }
export interface DecisionMessage extends DecisionRequest {
  type: 'decision'
  id?: MessageId
  vm: string
  exit: number
}
export type ClientMessage = SubscribeMessage | UnsubscribeMessage | DecisionMessage

/** The events of one VM that carry a seq, in the order the server sent them. */
export type VmEvent = ExitMessage | DecidedMessage | StateMessage

// The client's names for the wire contract. Every shape is the schema's own type
// (schemas/), so the client cannot drift from what the server validates and sends; the
// aliases keep the names client code has used since the first release.
import type {
  CreateVmBody, DecideMode, DecisionBody, DecisionRecord, Divergence, ExitRecord, ExitView, OnDivergence, PolicyInput,
  PresetView, ReplayQuery, SetAttributesBody, VmView
} from '../../schemas/index.js'

export type {
  AckMessage, AttributeExtent, BackingExtent, ClientMessage, DecidedBy, DecidedMessage, DecisionAction,
  DecisionMessage, ErrorCode, ErrorMessage, ExitMessage, ExitReasonName as ExitReason, HelloMessage, Hypercall,
  Instruction, Io, Memslot, MemoryFault, MessageId, Mmio, Page, PolicyRule, Role, RevokedMessage, RunResult,
  ServerMessage, StateMessage, SubscribedMessage, SubscribeMessage, SystemEvent, UnsubscribeMessage, VcpuInfo,
  ReplayState, ReplayView, StreamVmState, VmAction, VmEvent, VmState, VmType
} from '../../schemas/index.js'

/** POST /v1/vms */
export type CreateVmRequest = CreateVmBody
/** `{ slots }` names every memslot; `{ size_mib }` is one slot at gpa 0. */
export type MemoryConfig = NonNullable<CreateVmBody['memory']>
/** Server-side policy of a VM: every field optional. */
export type VmPolicy = PolicyInput
/** One VM as the server returns it (GET /v1/vms/{vm}). */
export type VmInfo = VmView
/** KVM_SET_MEMORY_ATTRIBUTES argument (struct kvm_memory_attributes). */
export type SetMemoryAttributesRequest = SetAttributesBody
/** A built-in guest program (GET /v1/presets). */
export type Preset = PresetView
/** A decision's optional fields: hypercall ret, IN/MMIO read data, a note for the journal. */
export type DecisionOptions = Omit<DecisionBody, 'action'>
export type DecisionRequest = DecisionBody
/** A decision as recorded in the exit journal. */
export type RecordedDecision = DecisionRecord
/** One exit's fields as the core reports them, with its VM and event seq. */
export type ExitFields = ExitRecord & { vm: string, seq: number }
/** An exit in the journal (GET /v1/vms/{vm}/exits): the stream's exit plus its decision. */
export type JournalExit = ExitView

export interface ListOptions { limit?: number, cursor?: string }
/** A range of guest memory read a page at a time (GET memory/attributes, memory/backing). */
export interface MemoryRangeOptions extends ListOptions {
  gpa?: number
  size?: number
}

/** A page of extents: `extents` are the items, `next` the cursor of the next page (null on the last). */
export interface ExtentPage<T> { extents: T[], next: string | null }

export interface ExitListOptions extends ListOptions {
  /** The exit journal after this seq. */
  since?: number
  /** Only exits still waiting for a decision (true), or only decided ones (false). */
  pending?: boolean
}

// Traces and replays (docs/traces.md): the schemas' own types, as above.

/** Who decides a replay's exits: the controller now subscribed to its VM, or the trace's decisions. */
export type ReplayDecide = DecideMode
/** What a replay does at a divergence: stop there, go on, or go on with the recorded decision. */
export type ReplayOnDivergence = OnDivergence
/** POST /v1/replays's query: `decide`, `on_divergence`, the new VM's `name`. */
export type ReplayOptions = ReplayQuery
/**
 * A place where the replay did not do what the trace recorded: `exit` is null for a state
 * change, `seq` null for an output the recording does not have, `line` the trace's line.
 */
export type ReplayDivergence = Divergence

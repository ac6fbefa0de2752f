// Exit traces (docs/traces.md): the NDJSON format `faultline-trace/1` that records a VM's run
// (GET /v1/vms/{vm}/trace) and that POST /v1/replays replays, and the replay's view. One
// JSON object a line: a header, then every input and output in the order they happened,
// then an end line. `npm run traces` writes TraceLine as JSON Schema
// (schemas/trace.schema.json) and a test holds the two together.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { DecidedBy, DecisionAction, ErrorBody, ExitData, Nullable, SafeInt, SafeUint, StreamVmState, VmId, VmType } from './common.js'
import { ExitMessage } from './exit.js'
import { KvmAbi, Memslot, Policy, Program } from './vm.js'

/** The format a trace's header names; a replay refuses a newer one by name. */
export const TRACE_FORMAT = 'faultline-trace/1'
export const TRACE_FORMAT_VERSION = 1
/** The media type of a trace: one JSON object a line. */
export const TRACE_MEDIA_TYPE = 'application/x-ndjson'

const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'The event\'s seq (the stream\'s)' })
const Vcpu = Type.Integer({ minimum: 0, maximum: 1023 })

/** The VM's definition: enough to make the same VM again (POST /v1/vms's fields, resolved). */
export const TraceVm = Type.Object({
  id: VmId,
  name: Nullable(Type.String()),
  type: VmType,
  vcpus: Type.Integer({ minimum: 1, maximum: 256 }),
  memslots: Type.Array(Memslot, { minItems: 1, maxItems: 32767 }),
  initial_attributes: Type.Enum(['private', 'shared']),
  gpaw: Type.Optional(Type.Union([Type.Literal(48), Type.Literal(52)], { description: 'tdx only' })),
  kvm_abi: KvmAbi,
  seed: SafeUint,
  preset: Nullable(Type.String({ minLength: 1, maxLength: 64, description: 'The preset the program came from; a replay takes the program from the preset of that name' })),
  program: Type.Optional(Program),
  policy: Policy
}, { additionalProperties: false })
export type TraceVm = Static<typeof TraceVm>

export const TraceCut = Type.Object({
  first_seq: Nullable(Type.Integer({ minimum: 1, description: 'The seq of the first event kept' })),
  dropped: Nullable(Type.Integer({ minimum: 0, description: 'Lines dropped from the head (null: recording began after the VM was made)' }))
}, { additionalProperties: false, description: 'The journal dropped the trace\'s head: it cannot be replayed from creation' })

export const TraceHeader = Type.Object({
  t: Type.Literal('header'),
  format: Type.Literal(TRACE_FORMAT),
  faultline: Type.String({ description: 'The version of the faultline that recorded it' }),
  vm: TraceVm,
  created_at: Type.String({ format: 'date-time' }),
  cut: Nullable(TraceCut)
}, { additionalProperties: false })
export type TraceHeader = Static<typeof TraceHeader>

const input = { t: Type.Literal('input') }
/** One scheduler slice: Vm.run(vcpu, budget), `n` times in a row (default 1). */
export const TraceRun = Type.Object({ ...input, op: Type.Literal('run'), vcpu: Vcpu, budget: Type.Integer({ minimum: 1, maximum: 100_000, description: 'Work units (FAULTLINE_RUN_BUDGET at most)' }), n: Type.Optional(Type.Integer({ minimum: 2, maximum: Number.MAX_SAFE_INTEGER })) }, { additionalProperties: false })
/** PUT memory/attributes (KVM_SET_MEMORY_ATTRIBUTES) with the server's extent cap then. */
export const TraceAttributes = Type.Object({ ...input, op: Type.Literal('attributes'), address: SafeUint, size: SafeUint, attributes: SafeUint, flags: SafeUint, max_extents: SafeUint }, { additionalProperties: false })
export const TracePoison = Type.Object({ ...input, op: Type.Literal('poison'), gpa: SafeUint }, { additionalProperties: false })
export const TraceInterrupt = Type.Object({ ...input, op: Type.Literal('interrupt'), vcpu: Vcpu }, { additionalProperties: false })
/** The core's reset, made by a reset action or a decision (a replay never applies it alone). */
export const TraceReset = Type.Object({ ...input, op: Type.Literal('reset') }, { additionalProperties: false })

/** An exit as the stream sent it. */
export const TraceExit = Type.Object({ t: Type.Literal('exit'), seq: Seq, exit: ExitMessage }, { additionalProperties: false })
/** A decision as the core got it, with who made it (the `decided` event's seq and `by`). */
export const TraceDecision = Type.Object({
  t: Type.Literal('decision'),
  seq: Seq,
  exit: Type.Integer({ minimum: 1 }),
  action: DecisionAction,
  ret: Type.Optional(SafeInt),
  data: Type.Optional(ExitData),
  inject: Type.Optional(Type.Literal('mce')),
  by: DecidedBy,
  reason: Type.Optional(Type.String({ maxLength: 256 }))
}, { additionalProperties: false })
export type TraceDecision = Static<typeof TraceDecision>
/** A state change; one whose reason is an action (start, pause, ...) is that action. */
export const TraceState = Type.Object({ t: Type.Literal('state'), seq: Seq, state: StreamVmState, reason: Type.String() }, { additionalProperties: false })
export type TraceState = Static<typeof TraceState>
/** The last line: the trace ends here, with `lines` lines before it (the header included). */
export const TraceEnd = Type.Object({
  t: Type.Literal('end'),
  lines: Type.Integer({ minimum: 1 }),
  seq: Type.Integer({ minimum: 0, description: 'The VM\'s seq when the trace was read' }),
  state: StreamVmState
}, { additionalProperties: false })

export const TraceInput = Type.Union([TraceRun, TraceAttributes, TracePoison, TraceInterrupt, TraceReset])
export type TraceInput = Static<typeof TraceInput>
/** Every line after the header. */
export const TraceBodyLine = Type.Union([TraceRun, TraceAttributes, TracePoison, TraceInterrupt, TraceReset, TraceExit, TraceDecision, TraceState, TraceEnd])
export type TraceBodyLine = Static<typeof TraceBodyLine>
/** Any line of a trace (the JSON Schema in schemas/trace.schema.json). */
export const TraceLine = Type.Union([TraceHeader, TraceBodyLine], { $id: 'https://faultline.dev/schemas/faultline-trace-1.json', title: 'A line of a faultline-trace/1 file' })

// ---- replays ------------------------------------------------------------------------------

export const OnDivergence = Type.Enum(['stop', 'continue', 'use_recorded'])
export type OnDivergence = Static<typeof OnDivergence>
export const DecideMode = Type.Enum(['controller', 'recorded'])
export type DecideMode = Static<typeof DecideMode>

export const ReplayQuery = Type.Object({
  on_divergence: Type.Optional(Type.Enum(['stop', 'continue', 'use_recorded'], { default: 'stop', description: 'What happens at the first difference' })),
  decide: Type.Optional(Type.Enum(['controller', 'recorded'], { default: 'controller', description: 'Who decides the exits the recorded run\'s controller decided' })),
  name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', description: 'The new VM\'s name' }))
}, { additionalProperties: false })
export type ReplayQuery = Static<typeof ReplayQuery>

export const ReplayParams = Type.Object({ replay: Type.String({ minLength: 1, maxLength: 64, description: 'A replay id, rp_...' }) }, { additionalProperties: false })

export const ReplayState = Type.Enum(['waiting', 'running', 'passed', 'diverged', 'stopped', 'failed'])
export type ReplayState = Static<typeof ReplayState>

export const Divergence = Type.Object({
  kind: Type.Enum(['SIMULATION_DIVERGED', 'DECISION_DIVERGED']),
  exit: Nullable(Type.Integer({ description: 'The exit id it is about, when it is about one' })),
  seq: Nullable(Type.Integer({ description: 'The recorded line\'s seq' })),
  line: Type.Integer({ minimum: 1, description: 'The trace line (1 = the header)' }),
  recorded: Type.Unknown({ description: 'The recorded line (null: none)' }),
  actual: Type.Unknown({ description: 'What the replay produced instead (null: nothing)' })
}, { additionalProperties: false })
export type Divergence = Static<typeof Divergence>

export const ReplayView = Type.Object({
  id: Type.String(),
  vm: VmId,
  state: ReplayState,
  decide: DecideMode,
  on_divergence: OnDivergence,
  exits: Type.Object({ recorded: Type.Integer(), replayed: Type.Integer() }, { additionalProperties: false }),
  decisions: Type.Object({ recorded: Type.Integer(), compared: Type.Integer() }, { additionalProperties: false }),
  lines: Type.Object({ total: Type.Integer(), done: Type.Integer() }, { additionalProperties: false, description: 'Trace lines, and how many the replay has gone through' }),
  divergences: Type.Array(Divergence, { description: 'Every difference, in order (the first 1000)' }),
  error: Nullable(Type.String({ description: 'Why a failed replay failed' })),
  created_at: Type.String({ format: 'date-time' }),
  finished_at: Nullable(Type.String({ format: 'date-time' }))
}, { additionalProperties: false })
export type ReplayView = Static<typeof ReplayView>

/** A refused trace: the error body plus the line at fault (1 = the header). */
export const TraceErrorBody = Type.Object({
  ...ErrorBody.properties,
  line: Type.Optional(Type.Integer({ minimum: 1, description: 'The trace line at fault (1 = the header)' }))
}, { additionalProperties: false })

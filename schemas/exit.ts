// An exit as the stream sends it (and GET .../exits lists it), and a decision on one.
// Payloads are named as in kvm_run; docs/spec/kvm-abi.md says when each is valid.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { DecidedBy, DecisionAction, ExitData, ExitReasonName, SafeInt, SafeUint, VmId } from './common.js'

export const MemoryFault = Type.Object({ flags: SafeUint, gpa: SafeUint, size: SafeUint }, { additionalProperties: false, description: 'kvm_run.memory_fault' })
export type MemoryFault = Static<typeof MemoryFault>
export const Hypercall = Type.Object({
  nr: SafeUint,
  args: Type.Array(Type.Number(), { minItems: 6, maxItems: 6 }),
  ret: Type.Number(),
  flags: SafeUint
}, { additionalProperties: false, description: 'kvm_run.hypercall' })
export type Hypercall = Static<typeof Hypercall>
export const Io = Type.Object({
  direction: Type.Integer({ minimum: 0, maximum: 1 }),
  size: Type.Integer(),
  port: Type.Integer(),
  count: Type.Integer(),
  data: Type.Array(Type.Integer())
}, { additionalProperties: false, description: 'kvm_run.io; data holds `count` values of `size` bytes' })
export type Io = Static<typeof Io>
export const Mmio = Type.Object({
  phys_addr: SafeUint,
  len: Type.Integer(),
  is_write: Type.Boolean(),
  data: Type.Array(Type.Integer())
}, { additionalProperties: false, description: 'kvm_run.mmio; data holds `len` bytes' })
export type Mmio = Static<typeof Mmio>
export const SystemEvent = Type.Object({
  type: Type.Integer(),
  ndata: Type.Integer(),
  data: Type.Array(Type.Number())
}, { additionalProperties: false, description: 'kvm_run.system_event' })
export type SystemEvent = Static<typeof SystemEvent>
export const RunErrno = Type.Enum(['EFAULT', 'EHWPOISON'])
export const RunResult = Type.Union([
  Type.Object({ ret: Type.Literal(0) }, { additionalProperties: false }),
  Type.Object({ ret: Type.Literal(-1), errno: RunErrno }, { additionalProperties: false })
], { description: 'What KVM_RUN returned: -1 with errno for KVM_EXIT_MEMORY_FAULT only' })
export type RunResult = Static<typeof RunResult>

/** What the core reports of one exit: the kvm_run fields, before the stream adds its own. */
export const exitRecordFields = {
  exit: Type.Integer({ minimum: 1, description: 'The exit id, per VM, never reused' }),
  vcpu: Type.Integer({ minimum: 0 }),
  reason: ExitReasonName,
  exit_reason: Type.Integer(),
  run: RunResult,
  memory_fault: Type.Optional(MemoryFault),
  hypercall: Type.Optional(Hypercall),
  io: Type.Optional(Io),
  mmio: Type.Optional(Mmio),
  system_event: Type.Optional(SystemEvent)
}
export const ExitRecord = Type.Object(exitRecordFields, { additionalProperties: false })
/**
 * One exit: the payload named as in kvm_run. A stale memory_fault may ride beside another
 * payload; it is valid only when run.ret is -1 and exit_reason is KVM_EXIT_MEMORY_FAULT.
 */
export type ExitRecord = Static<typeof ExitRecord>

const exitFields = {
  type: Type.Literal('exit'),
  vm: VmId,
  seq: Type.Integer({ minimum: 1 }),
  ...exitRecordFields,
  pending: Type.Boolean({ description: 'false when a policy rule already decided it in the server: no client needs to answer it' })
}

/** Server → client `exit`. */
export const ExitMessage = Type.Object(exitFields, { additionalProperties: false })
export type ExitMessage = Static<typeof ExitMessage>

export const DecisionRecord = Type.Object({
  action: DecisionAction,
  by: DecidedBy,
  seq: Type.Integer({ description: 'The seq of the decided event' }),
  ret: Type.Optional(SafeInt),
  data: Type.Optional(ExitData),
  inject: Type.Optional(Type.Literal('mce')),
  reason: Type.Optional(Type.String())
}, { additionalProperties: false })
/** A decision as the journal keeps it. */
export type DecisionRecord = Static<typeof DecisionRecord>

/** One item of GET /v1/vms/{vm}/exits. */
export const ExitView = Type.Object({
  ...exitFields,
  decision: Type.Union([DecisionRecord, Type.Null()])
}, { additionalProperties: false })
export type ExitView = Static<typeof ExitView>

export const decisionFields = {
  action: DecisionAction,
  ret: Type.Optional(Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: 'resume: hypercall.ret for the guest (default 0)' })),
  data: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 0xffffffff }), { maxItems: 65536, description: 'resume: the data for an IN or an MMIO read' })),
  inject: Type.Optional(Type.Literal('mce', { description: 'resume after EHWPOISON: the VMM injects a machine check and the guest abandons the access (KVM_X86_SET_MCE)' })),
  reason: Type.Optional(Type.String({ maxLength: 256, description: 'Free text kept in the journal' }))
}
/** POST /v1/vms/{vm}/exits/{exit}/decision: the stream's decision without type/vm/exit. */
export const DecisionBody = Type.Object(decisionFields, { additionalProperties: false })
export type DecisionBody = Static<typeof DecisionBody>

export const ExitParams = Type.Object({
  vm: VmId,
  exit: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
}, { additionalProperties: false })

export const ExitsQuery = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Only exits with seq greater than this' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  pending: Type.Optional(Type.Boolean({ description: 'true: only pending exits; false: only decided ones' }))
}, { additionalProperties: false })
export type ExitsQuery = Static<typeof ExitsQuery>

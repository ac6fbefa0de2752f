// An exit as the stream sends it (and GET .../exits lists it), and a decision on one.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { DecidedBy, DecisionAction, ExitData, ExitReasonName, SafeInt, SafeUint, VmId } from './common.js'

export const MemoryFault = Type.Object({ flags: SafeUint, gpa: SafeUint, size: SafeUint }, { additionalProperties: false, description: 'kvm_run.memory_fault' })
export const Hypercall = Type.Object({
  nr: SafeUint,
  args: Type.Array(Type.Number(), { minItems: 6, maxItems: 6 }),
  ret: Type.Number(),
  flags: SafeUint
}, { additionalProperties: false, description: 'kvm_run.hypercall' })
export const Io = Type.Object({
  direction: Type.Integer({ minimum: 0, maximum: 1 }),
  size: Type.Integer(),
  port: Type.Integer(),
  count: Type.Integer(),
  data: Type.Array(Type.Integer())
}, { additionalProperties: false, description: 'kvm_run.io' })
export const Mmio = Type.Object({
  phys_addr: SafeUint,
  len: Type.Integer(),
  is_write: Type.Boolean(),
  data: Type.Array(Type.Integer())
}, { additionalProperties: false, description: 'kvm_run.mmio' })
export const SystemEvent = Type.Object({
  type: Type.Integer(),
  ndata: Type.Integer(),
  data: Type.Array(Type.Number())
}, { additionalProperties: false, description: 'kvm_run.system_event' })
export const RunResult = Type.Union([
  Type.Object({ ret: Type.Literal(0) }, { additionalProperties: false }),
  Type.Object({ ret: Type.Literal(-1), errno: Type.Enum(['EFAULT', 'EHWPOISON']) }, { additionalProperties: false })
], { description: 'What KVM_RUN returned' })

const exitFields = {
  type: Type.Literal('exit'),
  vm: VmId,
  exit: Type.Integer({ minimum: 1, description: 'The exit id, per VM, never reused' }),
  seq: Type.Integer({ minimum: 1 }),
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

/** Server → client `exit`. */
export const ExitMessage = Type.Object(exitFields, { additionalProperties: false })

export const DecisionRecord = Type.Object({
  action: DecisionAction,
  by: DecidedBy,
  seq: Type.Integer({ description: 'The seq of the decided event' }),
  ret: Type.Optional(SafeInt),
  data: Type.Optional(ExitData),
  reason: Type.Optional(Type.String())
}, { additionalProperties: false })

/** One item of GET /v1/vms/{vm}/exits. */
export const ExitView = Type.Object({
  ...exitFields,
  decision: Type.Union([DecisionRecord, Type.Null()])
}, { additionalProperties: false })

const decisionFields = {
  action: DecisionAction,
  ret: Type.Optional(Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: 'resume: hypercall.ret for the guest (default 0)' })),
  data: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 0xffffffff }), { maxItems: 65536, description: 'resume: the data for an IN or an MMIO read' })),
  reason: Type.Optional(Type.String({ maxLength: 256, description: 'Free text kept in the journal' }))
}
/** POST /v1/vms/{vm}/exits/{exit}/decision: the stream's decision without type/vm/exit. */
export const DecisionBody = Type.Object(decisionFields, { additionalProperties: false })
export type DecisionBody = Static<typeof DecisionBody>
export { decisionFields }

export const ExitParams = Type.Object({
  vm: VmId,
  exit: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
}, { additionalProperties: false })

export const ExitsQuery = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Only exits with seq greater than this' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  pending: Type.Optional(Type.Boolean({ description: 'true: only pending exits; false: only decided ones' }))
}, { additionalProperties: false })

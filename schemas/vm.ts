// POST /v1/vms and the VM views (docs/spec/api-v1.md "VM body").
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { DecisionAction, ExitData, ExitReasonName, Gpa, GpaSize, Nullable, SafeUint, VmAction, VmId, VmState, VmType } from './common.js'

export const Memslot = Type.Object({
  slot: Type.Integer({ minimum: 0, maximum: 32767 }),
  gpa: Gpa,
  size: GpaSize,
  guest_memfd: Type.Boolean({ description: 'Backed by a guest_memfd, so it can hold private pages' })
}, { additionalProperties: false })
export type Memslot = Static<typeof Memslot>

export const PolicyRule = Type.Object({
  reason: ExitReasonName,
  action: DecisionAction,
  errno: Type.Optional(Type.Enum(['EFAULT', 'EHWPOISON'], { description: 'Match memory faults with this KVM_RUN errno only' })),
  private: Type.Optional(Type.Boolean({ description: 'Match exits asking for private (true) or shared (false) memory only' })),
  ret: Type.Optional(Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: 'resume: hypercall.ret' })),
  data: Type.Optional(ExitData)
}, { additionalProperties: false })
/** A rule decides a matching exit inside the server; first match wins. */
export type PolicyRule = Static<typeof PolicyRule>

const policyFields = {
  decision_timeout_ms: Nullable(Type.Integer({ minimum: 1, maximum: 86_400_000, description: 'null: a pending exit waits for ever' })),
  on_timeout: DecisionAction,
  rules: Type.Array(PolicyRule, { maxItems: 64, description: 'First match wins; decided with by "rule"' })
}
export const Policy = Type.Object(policyFields, { additionalProperties: false })
export type Policy = Static<typeof Policy>
export const PolicyInput = Type.Object({
  decision_timeout_ms: Type.Optional(policyFields.decision_timeout_ms),
  on_timeout: Type.Optional(DecisionAction),
  rules: Type.Optional(policyFields.rules)
}, { additionalProperties: false })
/** A VM's policy as a request gives it: every field optional. */
export type PolicyInput = Static<typeof PolicyInput>

export const OP_NAMES = ['read', 'write', 'sweep', 'map_gpa', 'out', 'in', 'mmio_read', 'mmio_write', 'hlt', 'shutdown', 'panic', 'repeat', 'random', 'pv_access'] as const
/**
 * Instructions are checked field by field (unknown fields included) by the core's program
 * validator, which names the exact place, e.g. program[3].body[0].gpa; here only the shape.
 */
/** One guest instruction: `op` and that op's fields (docs/programs.md). */
export interface Instruction { op: string, [field: string]: unknown }
export const Instruction = Type.Unsafe<Instruction>(
  Type.Object({ op: Type.Enum([...OP_NAMES]) }, { additionalProperties: true, description: 'One guest instruction (docs/programs.md)' })
)
export const Program = Type.Array(Instruction, { maxItems: 1_000_000 })

/**
 * Which KVM behaviour to follow where kernels differ: '6.19' (the latest release) or 'next'
 * (the KVM maintainers' queue: userspace may answer a TDX/SNP conversion with EAGAIN or
 * EINVAL). docs/kvm-fidelity.md says what differs.
 */
export const KvmAbi = Type.Enum(['6.19', 'next'])
export type KvmAbi = Static<typeof KvmAbi>

export const CreateVmBody = Type.Object({
  name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', description: 'Unique per tenant' })),
  type: VmType,
  vcpus: Type.Integer({ minimum: 1, maximum: 256 }),
  memory: Type.Optional(Type.Union([
    Type.Object({ slots: Type.Array(Memslot, { minItems: 1, maxItems: 32767 }) }, { additionalProperties: false }),
    Type.Object({ size_mib: Type.Integer({ minimum: 1, maximum: 2 ** 32 }) }, { additionalProperties: false })
  ], { description: 'Required unless a preset gives it' })),
  initial_attributes: Type.Optional(Type.Enum(['private', 'shared'])),
  gpaw: Type.Optional(Type.Union([Type.Literal(48), Type.Literal(52)], { description: 'tdx only' })),
  program: Type.Optional(Program),
  preset: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  seed: Type.Optional(SafeUint),
  kvm_abi: Type.Optional(KvmAbi),
  policy: Type.Optional(PolicyInput),
  autostart: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
export type CreateVmBody = Static<typeof CreateVmBody>

export const VmCounters = Type.Object({
  exits: Type.Integer(),
  pending: Type.Integer(),
  decisions: Type.Integer(),
  by_rule: Type.Integer(),
  by_timeout: Type.Integer(),
  accesses: Type.Integer(),
  hypercall_errors: Type.Integer(),
  machine_checks: Type.Integer(),
  interrupts: Type.Integer()
}, { additionalProperties: false })
export type VmCounters = Static<typeof VmCounters>

export const VmView = Type.Object({
  id: VmId,
  name: Nullable(Type.String()),
  type: VmType,
  state: VmState,
  state_reason: Type.String(),
  vcpus: Type.Integer(),
  memslots: Type.Array(Memslot),
  initial_attributes: Type.Enum(['private', 'shared']),
  gpaw: Type.Optional(Type.Unsafe<48 | 52>({ type: 'integer', enum: [48, 52] })),
  seed: Type.Integer(),
  kvm_abi: KvmAbi,
  preset: Nullable(Type.String()),
  program_length: Type.Integer(),
  policy: Policy,
  counters: VmCounters,
  seq: Type.Integer({ description: 'The VM\'s latest event seq (0 = none yet)' }),
  created_at: Type.String({ format: 'date-time' })
}, { additionalProperties: false })
/** GET /v1/vms/{vm}. */
export type VmView = Static<typeof VmView>

export const ActionBody = Type.Object({ action: VmAction }, { additionalProperties: false })

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{22}$', description: 'The `next` of the previous page (opaque; good for this server process and tenant)' }))
}, { additionalProperties: false })
export type ListQuery = Static<typeof ListQuery>

export const VcpuInfo = Type.Object({
  id: Type.Integer(),
  state: Type.Enum(['runnable', 'exit_pending', 'halted']),
  pending_exit: Nullable(Type.Integer()),
  counters: Type.Object({
    accesses: Type.Integer(),
    exits: Type.Integer(),
    hypercall_errors: Type.Integer(),
    machine_checks: Type.Integer(),
    interrupts: Type.Integer()
  }, { additionalProperties: false })
}, { additionalProperties: false })
export type VcpuInfo = Static<typeof VcpuInfo>

export const VcpuParams = Type.Object({
  vm: VmId,
  vcpu: Type.Integer({ minimum: 0, maximum: 1023 })
}, { additionalProperties: false })

export const PresetView = Type.Object({
  name: Type.String(),
  description: Type.String(),
  types: Type.Array(VmType),
  memory_mib: Type.Integer(),
  exits: Type.String(),
  memslots: Type.Optional(Type.Array(Memslot)),
  program: Type.Array(Type.Unknown())
}, { additionalProperties: false })
/** A built-in guest program (GET /v1/presets). */
export type PresetView = Static<typeof PresetView>

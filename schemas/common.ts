// Shapes shared by every route: error bodies, ids, pages, KVM-named enums.
import { Type } from 'typebox'
import type { Static, TSchema, TUnsafe } from 'typebox'
import { EXIT_REASON_NAMES, GPA_LIMIT } from './kvm.js'

/** `{statusCode, code, error, message}` plus `errno` / `path` where they apply. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'Stable: FAULTLINE_ + the stream\'s error code (schemas/errors.ts)' }),
  error: Type.String(),
  message: Type.String(),
  errno: Type.Optional(Type.String({ description: 'The errno the mirrored KVM call fails with, e.g. EINVAL' })),
  path: Type.Optional(Type.String({ description: 'Where in the request the problem is, e.g. program[3].gpa' }))
}, { additionalProperties: false, $id: 'Error' })

export const VmId = Type.String({ minLength: 1, maxLength: 64, description: 'A VM id, e.g. vm_Zt3...' })
export const VmParams = Type.Object({ vm: VmId }, { additionalProperties: false })

/** A guest physical address: 0 .. 2^52 - 1 (MAXPHYADDR 52). */
export const Gpa = Type.Integer({ minimum: 0, maximum: GPA_LIMIT - 1 })
/** A byte count over guest physical space. */
export const GpaSize = Type.Integer({ minimum: 1, maximum: GPA_LIMIT })
/** Any JSON-safe non-negative integer: where KVM does its own checks (and says EINVAL). */
export const SafeUint = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
export const SafeInt = Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })

export const ExitReasonName = Type.Enum(Object.values(EXIT_REASON_NAMES), { description: 'The KVM exit name' })
/** The KVM names of exit reasons as they cross the wire in `reason`. */
export type ExitReasonName = Static<typeof ExitReasonName>
export const DecisionAction = Type.Enum(['convert', 'resume', 'kill'])
export type DecisionAction = Static<typeof DecisionAction>
/** Who decided an exit, as the `decided` event says. */
export const DecidedBy = Type.Enum(['controller', 'rest', 'rule', 'timeout'])
export type DecidedBy = Static<typeof DecidedBy>
const VM_STATES = ['created', 'running', 'paused', 'stopped', 'killed', 'crashed'] as const
export const VmState = Type.Enum([...VM_STATES])
export type VmState = Static<typeof VmState>
/**
 * A state as the stream's `state` event says it: a VM's state, or `deleted`, the VM's last
 * event (REST never shows it: the VM is gone).
 */
export const StreamVmState = Type.Enum([...VM_STATES, 'deleted'])
export type StreamVmState = Static<typeof StreamVmState>
export const VmAction = Type.Enum(['start', 'pause', 'resume', 'stop', 'kill', 'reset'])
export type VmAction = Static<typeof VmAction>
export const VmType = Type.Enum(['default', 'sw_protected', 'snp', 'tdx'])
export type VmType = Static<typeof VmType>
/** A stream subscription's role. */
export const Role = Type.Enum(['controller', 'observer'])
export type Role = Static<typeof Role>
/** Data for an IN (values of `size` bytes) or an MMIO read (bytes). */
export const ExitData = Type.Array(Type.Integer({ minimum: 0, maximum: 0xffffffff }), { maxItems: 65536 })

/**
 * T or null as one `type: [..., "null"]` schema rather than anyOf: the same validation, and
 * fast-json-stringify serializes it without trying each branch (hot GET routes use it).
 */
export function Nullable<T extends TSchema & { type: string }> (schema: T): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] })
}

/** Every list: a page of items and the cursor of the next page, null on the last. */
export interface Page<T> { items: T[], next: string | null }

/** `{"items": [...], "next": cursor|null}` */
export const Page = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  next: Nullable(Type.String())
}, { additionalProperties: false })

/**
 * The error responses a route may give, for the OpenAPI document. Every authenticated
 * route may answer 403 (a metrics token may only read /metrics).
 */
export function errors (...codes: number[]): Record<number, typeof ErrorBody> {
  const out: Record<number, typeof ErrorBody> = {}
  for (const c of [400, 401, 403, 429, 503, ...codes]) out[c] = ErrorBody
  return out
}

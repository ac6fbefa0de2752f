// Memory routes: attribute extents (never pages), KVM_SET_MEMORY_ATTRIBUTES, poison, backing.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { Gpa, GpaSize, Nullable, SafeUint } from './common.js'

/** Most extents one page of GET memory/attributes or memory/backing holds. */
export const MAX_EXTENTS_PAGE = 10_000
export const DEFAULT_EXTENTS_PAGE = 1000

/**
 * A range of guest memory, read a page at a time: `limit` extents at most, from `cursor`
 * (the `next` of the previous page: a gpa inside [gpa, gpa + size)) or from gpa.
 */
export const RangeQuery = Type.Object({
  gpa: Type.Optional(Gpa),
  size: Type.Optional(GpaSize),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXTENTS_PAGE, default: DEFAULT_EXTENTS_PAGE })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$', description: 'The `next` of the previous page' }))
}, { additionalProperties: false })

export type RangeQuery = Static<typeof RangeQuery>

/** [gpa, gpa + size) has `attributes` (KVM_MEMORY_ATTRIBUTE_PRIVATE or 0). */
export const AttributeExtent = Type.Object({ gpa: SafeUint, size: SafeUint, attributes: SafeUint }, { additionalProperties: false })
export type AttributeExtent = Static<typeof AttributeExtent>
/** What PUT memory/attributes answers: the range as it now is (one extent). */
export const AttributeExtents = Type.Object({ extents: Type.Array(AttributeExtent) }, { additionalProperties: false })

/**
 * A page of extents: `extents` are the page's items (as `items` in lists), `next` the
 * cursor of the next page, null on the last. Pages concatenate to the whole range.
 */
const ExtentPage = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Object({
  extents: Type.Array(item),
  next: Nullable(Type.String())
}, { additionalProperties: false })
export const AttributeExtentPage = ExtentPage(AttributeExtent)

/** struct kvm_memory_attributes: KVM's own checks (and EINVAL) apply, so any safe integer passes here. */
export const SetAttributesBody = Type.Object({
  address: SafeUint,
  size: SafeUint,
  attributes: SafeUint,
  flags: SafeUint
}, { additionalProperties: false })
export type SetAttributesBody = Static<typeof SetAttributesBody>

export const PoisonBody = Type.Object({ gpa: Gpa }, { additionalProperties: false })

export const BackingExtent = Type.Object({
  gpa: SafeUint,
  size: SafeUint,
  attributes: SafeUint,
  shared_populated: Type.Boolean(),
  private_populated: Type.Boolean(),
  poisoned: Type.Boolean()
}, { additionalProperties: false })
export type BackingExtent = Static<typeof BackingExtent>
export const BackingExtentPage = ExtentPage(BackingExtent)

/** A page of extents as control/ answers it (the shape of AttributeExtentPage / BackingExtentPage). */
export interface ExtentsPage<T> { extents: T[], next: string | null }

// Memory routes: attribute extents (never pages), KVM_SET_MEMORY_ATTRIBUTES, poison, backing.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { Gpa, GpaSize, SafeUint } from './common.js'

export const RangeQuery = Type.Object({
  gpa: Type.Optional(Gpa),
  size: Type.Optional(GpaSize)
}, { additionalProperties: false })

export type RangeQuery = Static<typeof RangeQuery>

/** [gpa, gpa + size) has `attributes` (KVM_MEMORY_ATTRIBUTE_PRIVATE or 0). */
export const AttributeExtent = Type.Object({ gpa: SafeUint, size: SafeUint, attributes: SafeUint }, { additionalProperties: false })
export type AttributeExtent = Static<typeof AttributeExtent>
export const AttributeExtents = Type.Object({ extents: Type.Array(AttributeExtent) }, { additionalProperties: false })

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
export const BackingExtents = Type.Object({ extents: Type.Array(BackingExtent) }, { additionalProperties: false })

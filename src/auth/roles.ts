// What each role may do (docs/spec/api-v1.md "Server"): admin and operator change things, observer
// only reads and observes. Tenancy (which VMs a principal sees) is control/'s find().
import type { Principal } from './types.js'

/** Create, control, decide, delete: admin and operator. */
export function canChange (p: Principal): boolean {
  return p.role !== 'observer'
}

/** Subscribe to a VM as its controller on the stream. */
export function canControl (p: Principal): boolean {
  return p.role !== 'observer'
}

/** Sees VMs of `tenant`: its own tenant, or every tenant for an admin. */
export function canSeeTenant (p: Principal, tenant: string): boolean {
  return p.role === 'admin' || p.tenant === tenant
}

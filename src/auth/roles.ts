// What each role may do (docs/api.md "Tenancy and roles"): admin and operator change
// things, observer only reads and observes, metrics only reads /metrics. Tenancy (which
// VMs a principal sees) is control/'s find(). Each check names the roles it allows, so a
// new role can do nothing until it is added here.
import type { Principal } from './types.js'

/** Create, control, decide, delete: admin and operator. */
export function canChange (p: Principal): boolean {
  return p.role === 'admin' || p.role === 'operator'
}

/** Subscribe to a VM as its controller on the stream. */
export function canControl (p: Principal): boolean {
  return p.role === 'admin' || p.role === 'operator'
}

/** Read VMs and the stream (in its tenant, or every tenant for an admin): not a scraper. */
export function canRead (p: Principal): boolean {
  return p.role !== 'metrics'
}

/** GET /metrics: server-wide counts (every tenant's VMs), so admin and scrapers only. */
export function canReadMetrics (p: Principal): boolean {
  return p.role === 'admin' || p.role === 'metrics'
}

/** Sees VMs of `tenant`: its own tenant, or every tenant for an admin. */
export function canSeeTenant (p: Principal, tenant: string): boolean {
  return p.role === 'admin' || p.tenant === tenant
}

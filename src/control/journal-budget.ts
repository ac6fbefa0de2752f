// How much history each VM may keep, shared out fairly. Every VM keeps its last events
// (the event journal, for `since`), its exits (the exit log, for GET .../exits) and, with
// traces on, its trace lines, each at most FAULTLINE_JOURNAL_EVENTS entries and
// FAULTLINE_JOURNAL_BYTES of frames. Those caps are per VM, and a kept exit costs about
// 1 KB of heap across the three: a thousand busy VMs would hold ~10 GB and take the server
// down. So all VMs together keep at most FAULTLINE_JOURNAL_TOTAL_EVENTS entries per kind.
//
// The total is shared as the scheduler shares CPU: per tenant first, then per VM. Tenants
// get equal parts (max-min fair: a tenant whose VMs need less than its part leaves the
// rest to the others), and a tenant's part is split evenly among its VMs, each keeping at
// most its own cap and never under MIN_SHARE. A byte cap shrinks with its event cap. So a
// tenant with a hundred VMs cannot shrink another tenant's one VM below half the total.
// When a new VM makes shares smaller, every VM's history is trimmed at once.

/** What a VM's journals may hold now (read at every append: the shares move with the VMs). */
export interface JournalCaps {
  readonly events: number
  readonly bytes: number
}

/** The least share, whatever the number of VMs (the configured per-VM cap if lower). */
export const MIN_SHARE = 16

/** One tenant's share: every VM of the tenant reads this same object. */
class TenantShare implements JournalCaps {
  events: number
  bytes: number
  vms = 0

  constructor (events: number, bytes: number) {
    this.events = events
    this.bytes = bytes
  }
}

export class JournalBudget {
  private readonly tenants = new Map<string, TenantShare>()

  constructor (
    private readonly perVmEvents: number,
    private readonly perVmBytes: number,
    private readonly totalEvents: number
  ) {}

  /**
   * One more VM of `tenant`: the caps its journals read (shared by the tenant's VMs). The
   * shares are not split again until split() (recovery adds every VM first).
   */
  join (tenant: string): JournalCaps {
    let s = this.tenants.get(tenant)
    if (s === undefined) {
      s = new TenantShare(this.perVmEvents, this.perVmBytes)
      this.tenants.set(tenant, s)
    }
    s.vms++
    return s
  }

  /** One VM of `tenant` fewer (split() to hand its part to the others). */
  leave (tenant: string): void {
    const s = this.tenants.get(tenant)
    if (s === undefined) return
    if (--s.vms <= 0) this.tenants.delete(tenant)
  }

  /** Splits the total among tenants, then their VMs; true when some VM's share got smaller. */
  split (): boolean {
    // Max-min fair: the tenants needing least are served first, each to at most an even
    // part of what is left, so that what one does not need goes to the rest.
    const order = [...this.tenants.values()].sort((a, b) => a.vms - b.vms)
    let left = this.totalEvents
    let shrank = false
    for (let i = 0; i < order.length; i++) {
      const s = order[i] as TenantShare
      const part = Math.min(s.vms * this.perVmEvents, Math.floor(left / (order.length - i)))
      left -= part
      const events = Math.min(this.perVmEvents, Math.max(MIN_SHARE, Math.floor(part / s.vms)))
      if (events < s.events) shrank = true
      s.events = events
      s.bytes = events === this.perVmEvents ? this.perVmBytes : Math.floor(this.perVmBytes * events / this.perVmEvents)
    }
    return shrank
  }

  /** The share of one VM of `tenant` now (the per-VM caps for a tenant without VMs). */
  of (tenant: string): JournalCaps {
    return this.tenants.get(tenant) ?? { events: this.perVmEvents, bytes: this.perVmBytes }
  }
}

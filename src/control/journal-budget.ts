// How much history each VM may keep, shared out fairly. Every VM keeps its last events
// (the event journal, for `since`), its exits (the exit log, for GET .../exits) and, with
// traces on, its trace lines, each at most FAULTLINE_JOURNAL_EVENTS entries and
// FAULTLINE_JOURNAL_BYTES of frames. Those caps are per VM, and a kept exit costs about
// 1 KB of heap across the three: a thousand busy VMs would hold ~10 GB and take the server
// down. So all VMs together keep at most FAULTLINE_JOURNAL_TOTAL_EVENTS entries per kind,
// split evenly: each VM's share is the smaller of its own cap and the total over the
// number of VMs (never under MIN_SHARE), and its byte cap shrinks in the same proportion.
// When a new VM makes the shares smaller, every VM's history is trimmed at once.

/** What a VM's journals may hold now (read at every append: the shares move with the VM count). */
export interface JournalCaps {
  readonly events: number
  readonly bytes: number
}

/** The least share, whatever the number of VMs (the configured per-VM cap if lower). */
export const MIN_SHARE = 16

export class JournalBudget implements JournalCaps {
  events: number
  bytes: number

  constructor (
    private readonly perVmEvents: number,
    private readonly perVmBytes: number,
    private readonly totalEvents: number
  ) {
    this.events = perVmEvents
    this.bytes = perVmBytes
    this.share(0)
  }

  /** Splits the total among `vms` VMs; true when each VM's share got smaller. */
  share (vms: number): boolean {
    const even = Math.floor(this.totalEvents / Math.max(1, vms))
    const events = Math.min(this.perVmEvents, Math.max(MIN_SHARE, even))
    const shrank = events < this.events
    this.events = events
    this.bytes = events === this.perVmEvents ? this.perVmBytes : Math.floor(this.perVmBytes * events / this.perVmEvents)
    return shrank
  }
}

// Runs every replay of the server, sharing the CPU as the scheduler shares it among VMs: one
// loop for all replays, round-robin across tenants and then across each tenant's replays,
// at most TICK_MS of work per event-loop turn before it yields. A tenant with many replays
// (each a VM of its own, FAULTLINE_MAX_VMS_PER_TENANT at most) gets no more turns than a
// tenant with one, and the replays together never hold the loop longer than one tick.
import { performance } from 'node:perf_hooks'
import { TICK_MS } from '../control/scheduler.js'

/** What the pump drives: a replay that can go on, and its work up to a deadline. */
export interface Pumped {
  readonly tenant: string
  /** False while it waits for a controller, or once finished. */
  readonly runnable: boolean
  /** Goes through its trace until `deadline` (performance.now() ms) or until it cannot go on. */
  work (deadline: number): void
}

export class ReplayPump {
  /** Per tenant, its replays that want to run, in turn order; tenants in turn order too. */
  private readonly queue = new Map<string, Set<Pumped>>()
  private scheduled = false
  private closed = false

  /** The replay can go on: it gets a turn soon. */
  wake (r: Pumped): void {
    if (this.closed) return
    let set = this.queue.get(r.tenant)
    if (set === undefined) { set = new Set(); this.queue.set(r.tenant, set) }
    set.add(r)
    if (!this.scheduled) { this.scheduled = true; setImmediate(this.tick) }
  }

  close (): void {
    this.closed = true
    this.queue.clear()
  }

  private readonly tick = (): void => {
    this.scheduled = false
    const end = performance.now() + TICK_MS
    while (this.queue.size > 0 && performance.now() < end) {
      for (const [tenant, set] of [...this.queue]) {
        const r = set.values().next().value as Pumped
        set.delete(r)
        if (r.runnable) r.work(end)
        // Served: the replay and the tenant go to the back of their rings.
        if (r.runnable) set.add(r)
        this.queue.delete(tenant)
        if (set.size > 0) this.queue.set(tenant, set)
        if (performance.now() >= end) break
      }
    }
    if (this.queue.size > 0 && !this.closed) { this.scheduled = true; setImmediate(this.tick) }
  }
}

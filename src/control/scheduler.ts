// Runs the vCPUs of running VMs in slices bounded by work (the core counts pages checked and
// populated), sharing the CPU fairly: round-robin across tenants, then across each tenant's
// VMs, then across each VM's vCPUs, every ring resuming where it stopped. A tick runs slices
// for about TICK_MS and then yields to the event loop, so I/O (and /healthz) is served
// whatever the guests do.
import { performance } from 'node:perf_hooks'
import type { VmRecord } from './record.js'
import type { ExitRecord, StepResult } from '../kvm/index.js'

/** How a slice runs a vCPU, and what it produced, for control/ to act on. */
export interface SliceSink {
  /** Runs the vCPU (through control/'s CoreDriver, which records the slice). */
  run (rec: VmRecord, vcpu: number, budget: number): StepResult
  onExit (rec: VmRecord, exit: ExitRecord): void
  onHalted (rec: VmRecord, vcpu: number): void
  onRunError (rec: VmRecord, vcpu: number, err: unknown): void
  /** After every slice: the VM may have grown past a limit. */
  onSliceEnd (rec: VmRecord): void
}

/**
 * How long one tick runs slices before it yields to the event loop, ms. A decision that
 * arrives mid-tick waits for the tick's end: 0.05 ms keeps a victim's exit round trip
 * within 2x beside spinning VMs (npm run bench -- isolation; 0.1 ms measured 2.06x), and a
 * turn of the event loop costs a few µs, ~5% of guest throughput.
 */
export const TICK_MS = 0.05
/** The least budget of a slice near the extent cap (each unit adds at most two extents). */
const MIN_SLICE = 16
/**
 * How far into a tenant's ring backlogged() looks for a VM that can still run. Bounded so
 * that the look costs little with thousands of blocked VMs; a backlog it misses only means
 * frames leave at once, as without one.
 */
const BACKLOG_LOOK = 64

/** One tenant's running VMs, visited round-robin from `next`. */
interface TenantRing {
  tenant: string
  vms: VmRecord[]
  next: number
}

export class Scheduler {
  /** Tenants with a running VM, visited round-robin from nextTenant. */
  private readonly tenants: TenantRing[] = []
  private nextTenant = 0
  private readonly rings = new Map<string, TenantRing>()
  private readonly running = new Set<VmRecord>()
  private scheduled = false
  /** Whether the last tick yielded with time spent (true) or ran out of work (false). */
  private yielded = false
  private closed = false
  /** Slices run so far (for tests and metrics). */
  slices = 0
  /** Slices that ended in an exit, so far. */
  private exits = 0

  constructor (
    private readonly runBudget: number,
    /** A VM's extent cap: near it, slices shrink so that the VM stops close to the cap. */
    private readonly maxExtents: number,
    private readonly sink: SliceSink,
    private readonly now: () => number = () => performance.now(),
    private readonly tickMs = TICK_MS
  ) {}

  /** Adds or removes a VM from the running set (its state says whether it runs). */
  setRunning (rec: VmRecord, running: boolean): void {
    if (running) {
      if (!this.running.has(rec)) {
        this.running.add(rec)
        let ring = this.rings.get(rec.tenant)
        if (ring === undefined) {
          ring = { tenant: rec.tenant, vms: [], next: 0 }
          this.rings.set(rec.tenant, ring)
          this.tenants.push(ring)
        }
        ring.vms.push(rec)
      }
      this.wake()
      return
    }
    if (!this.running.delete(rec)) return
    const ring = this.rings.get(rec.tenant) as TenantRing
    ring.next = removeAt(ring.vms, ring.vms.indexOf(rec), ring.next)
    if (ring.vms.length === 0) {
      this.rings.delete(rec.tenant)
      this.nextTenant = removeAt(this.tenants, this.tenants.indexOf(ring), this.nextTenant)
    }
  }

  /** Asks for a tick: something may be runnable now. */
  wake (): void {
    if (this.scheduled || this.closed || this.running.size === 0) return
    this.scheduled = true
    setImmediate(this.tick)
  }

  close (): void { this.closed = true }

  /**
   * Whether the last tick yielded with time spent and the tenant still has a VM able to
   * run: the CPU, not the tenant's clients, is what its vCPUs wait for (the stream may then
   * hold the tenant's frames a little longer and write them in fewer syscalls:
   * src/stream/outbox.ts). Looked at when asked (a socket's release), not at every tick.
   */
  backlogged (tenant: string): boolean {
    if (!this.yielded) return false
    const ring = this.rings.get(tenant)
    return ring !== undefined && hasRunnable(ring)
  }

  /**
   * Runs one slice per tenant in turn (each tenant's next runnable VM) until TICK_MS has
   * passed or a whole round finds nothing to run, then yields.
   */
  private readonly tick = (): void => {
    this.scheduled = false
    if (this.closed) return
    const start = this.now()
    let idle = 0
    while (this.tenants.length > 0 && idle < this.tenants.length) {
      const t = this.nextTenant % this.tenants.length
      this.nextTenant = (t + 1) % this.tenants.length
      const ring = this.tenants[t] as TenantRing
      const exits = this.exits
      if (!this.runTenant(ring)) { idle++; continue }
      idle = 0
      // A slice that exited and left its tenant nothing to run ends the tick: that tenant
      // now waits for its client, and the exit's frame goes out at this turn's end instead
      // of after the rest of the tick's slices of other tenants (up to TICK_MS).
      if (this.now() - start >= this.tickMs || (this.exits !== exits && this.tenants.length > 1 && !hasRunnable(ring))) { this.yielded = true; this.wake(); return }
    }
    // A whole round found nothing to run: sleep until a start, decision or interrupt wakes it.
    this.yielded = false
  }

  /** Runs one slice of the tenant's next runnable VM; false when none can run. */
  private runTenant (ring: TenantRing): boolean {
    const n = ring.vms.length
    for (let k = 0; k < n; k++) {
      const i = (ring.next + k) % n
      const rec = ring.vms[i] as VmRecord
      if (!runnable(rec)) continue
      // Set before the slice: the slice may stop the VM and so remove it from the ring.
      ring.next = (i + 1) % n
      if (this.runSlice(rec)) return true
    }
    return false
  }

  /** Runs the VM's next runnable vCPU for one slice; false when none can run. */
  private runSlice (rec: VmRecord): boolean {
    const n = rec.config.vcpus
    for (let k = 0; k < n; k++) {
      const v = (rec.nextVcpu + k) % n
      if (rec.halted.has(v) || rec.blocked.has(v)) continue
      rec.nextVcpu = (v + 1) % n
      this.slices++
      let res
      try {
        const room = this.maxExtents - rec.vm.extentCount
        res = this.sink.run(rec, v, room >= this.runBudget ? this.runBudget : Math.max(MIN_SLICE, room))
      } catch (err) {
        this.sink.onRunError(rec, v, err)
        return true
      }
      switch (res.kind) {
        case 'exit': this.exits++; this.sink.onExit(rec, res.exit); break
        case 'halted': this.sink.onHalted(rec, v); break
        case 'pending': rec.blocked.add(v); break
        case 'yield': break
      }
      if (rec.state === 'running') this.sink.onSliceEnd(rec)
      return true
    }
    return false
  }
}

/** Whether one of the first BACKLOG_LOOK VMs from the ring's cursor can run. */
function hasRunnable (ring: TenantRing): boolean {
  const n = ring.vms.length
  for (let k = 0; k < n && k < BACKLOG_LOOK; k++) {
    if (runnable(ring.vms[(ring.next + k) % n] as VmRecord)) return true
  }
  return false
}

function runnable (rec: VmRecord): boolean {
  return rec.state === 'running' && rec.halted.size + rec.blocked.size < rec.config.vcpus && rec.replay !== true
}

/** Removes list[i] and returns the cursor that still points at the same next item. */
function removeAt<T> (list: T[], i: number, cursor: number): number {
  if (i < 0) return cursor
  list.splice(i, 1)
  if (i < cursor) cursor--
  return list.length === 0 || cursor >= list.length ? 0 : cursor
}

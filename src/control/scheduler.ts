// Runs the vCPUs of running VMs in bounded slices, round-robin across VMs and their vCPUs,
// yielding to the event loop between batches of slices so that I/O is served.
import type { VmRecord } from './record.js'
import type { ExitRecord } from '../kvm/index.js'

/** What a slice produced, for control/ to act on. */
export interface SliceSink {
  onExit (rec: VmRecord, exit: ExitRecord): void
  onHalted (rec: VmRecord, vcpu: number): void
  onRunError (rec: VmRecord, vcpu: number, err: unknown): void
}

/** Scheduler slices per macrotask: enough to keep vCPUs busy, few enough to keep I/O served. */
const SLICES_PER_TICK = 32

export class Scheduler {
  /** VMs in state running, in the order the scheduler visits them. */
  private readonly running = new Set<VmRecord>()
  /** The running VMs as one scheduler pass visits them, refilled per pass (no allocation). */
  private readonly order: VmRecord[] = []
  private scheduled = false
  private closed = false

  constructor (private readonly runBudget: number, private readonly sink: SliceSink) {}

  /** Adds or removes a VM from the running set (its state says whether it runs). */
  setRunning (rec: VmRecord, running: boolean): void {
    if (running) { this.running.add(rec); this.wake() } else this.running.delete(rec)
  }

  /** Asks for a tick: something may be runnable now. */
  wake (): void {
    if (this.scheduled || this.closed || this.running.size === 0) return
    this.scheduled = true
    setImmediate(this.tick)
  }

  close (): void { this.closed = true }

  /**
   * Runs up to SLICES_PER_TICK bounded vCPU slices, round-robin across running VMs and
   * their vCPUs, then yields to the event loop; stops when nothing can run.
   */
  private readonly tick = (): void => {
    this.scheduled = false
    if (this.closed) return
    let slices = 0
    let idle = 0
    const order = this.order
    while (slices < SLICES_PER_TICK && this.running.size > 0 && idle < this.running.size) {
      let ranAny = false
      // A snapshot: a slice may stop a VM (or stop and restart it) while the pass goes on.
      order.length = 0
      for (const rec of this.running) order.push(rec)
      for (let i = 0; i < order.length && slices < SLICES_PER_TICK; i++) {
        const rec = order[i] as VmRecord
        if (rec.state !== 'running') continue
        if (this.runSlice(rec)) { slices++; ranAny = true }
      }
      idle = ranAny ? 0 : idle + this.running.size
    }
    // Holds no VM between ticks (a deleted one could not be collected).
    order.length = 0
    for (const rec of this.running) {
      if (rec.halted.size + rec.blocked.size < rec.config.vcpus) { this.wake(); return }
    }
  }

  /** Runs the VM's next runnable vCPU for one slice; false when none can run. */
  private runSlice (rec: VmRecord): boolean {
    const n = rec.config.vcpus
    for (let k = 0; k < n; k++) {
      const v = (rec.nextVcpu + k) % n
      if (rec.halted.has(v) || rec.blocked.has(v)) continue
      rec.nextVcpu = (v + 1) % n
      let res
      try {
        res = rec.vm.run(v, this.runBudget)
      } catch (err) {
        this.sink.onRunError(rec, v, err)
        return true
      }
      switch (res.kind) {
        case 'exit': this.sink.onExit(rec, res.exit); break
        case 'halted': this.sink.onHalted(rec, v); break
        case 'pending': rec.blocked.add(v); break
        case 'yield': break
      }
      return true
    }
    return false
  }
}

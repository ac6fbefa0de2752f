// One vCPU: interprets the compiled guest program step by step (one access or op each),
// sends each access through the fault path, and holds at most one pending exit until
// userspace answers it (docs/spec/kvm-abi.md section 2). All state is plain data (./vcpu/state.ts).
import {
  KVM_EXIT_HYPERCALL_LONG_MODE, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, KVM_EXIT_MEMORY_FAULT, KVM_SYSTEM_EVENT_CRASH,
  PAGE_SIZE
} from '../constants.js'
import { ACCESS_MEMORY_FAULT, ACCESS_MMIO, ACCESS_OK, ACCESS_PARTIAL } from '../fault-path.js'
import type { AccessResult, FaultPath } from '../fault-path.js'
import {
  hltExit, ioExit, mapGpaRangeExit, memoryFaultExit, mmioExit, shutdownExit, systemEventExit
} from '../exit-record.js'
import { mapGpaRangeBegin, mapGpaRangeComplete } from '../hypercall/map-gpa-range.js'
import type { HcHost, HcResult } from '../hypercall/result.js'
import { SnpPsc } from '../hypercall/snp-psc.js'
import { TdxMapGpa } from '../hypercall/tdx-map-gpa.js'
import { Rng, vcpuSeed } from '../program/rng.js'
import type { Decision, DecisionOutcome, ExitRecord, KvmAbi, StepResult, VcpuCounters, VcpuInfo, VmType } from '../types.js'
import { KvmError } from '../types.js'
import {
  OP_HLT, OP_IN, OP_LOOP_END, OP_LOOP_START, OP_MAP_GPA, OP_MMIO_READ, OP_MMIO_WRITE, OP_OUT, OP_PANIC,
  OP_PV_ACCESS, OP_RANDOM, OP_READ, OP_SHUTDOWN, OP_SWEEP, OP_WRITE
} from './compile.js'
import type { Code, CodeOp } from './compile.js'
import { planDecision } from './decide.js'
import type { DecisionPlan } from './decide.js'
import { bootData } from './state.js'
import type { Completion, HcState, RandomDraw, VcpuData } from './state.js'

/** What a vCPU needs from its VM. */
export interface VcpuCore {
  readonly type: VmType
  readonly gpaw: 48 | 52
  readonly hypercallExit: boolean
  readonly kvmAbi: KvmAbi
  readonly seed: number
  readonly fault: FaultPath
  readonly code: Code
  /** The VM's next exit id (per VM from 1, never reused). */
  nextExitId (): number
  /** A decision's conversion: KVM_SET_MEMORY_ATTRIBUTES + discard; throws INVALID_ACTION. */
  convert (gpa: number, size: number, priv: boolean): void
}

const YIELD: StepResult = Object.freeze({ kind: 'yield' })
const HALTED: StepResult = Object.freeze({ kind: 'halted' })
const PENDING: StepResult = Object.freeze({ kind: 'pending' })

export class Vcpu implements HcHost {
  readonly id: number
  private d: VcpuData
  private rng: Rng
  private readonly core: VcpuCore
  private readonly ops: CodeOp[]
  private readonly fault: FaultPath
  private readonly tdx: TdxMapGpa | null
  private readonly snp: SnpPsc | null
  /** The current run()'s budget and the work units it has spent. */
  private budget = 0
  private spent = 0

  constructor (id: number, core: VcpuCore, data?: VcpuData) {
    this.id = id
    this.core = core
    this.ops = core.code.ops
    this.fault = core.fault
    this.tdx = core.type === 'tdx' ? new TdxMapGpa(this, core.fault.sharedBit, core.gpaw) : null
    this.snp = core.type === 'snp' ? new SnpPsc(this) : null
    if (data === undefined) {
      this.rng = new Rng(vcpuSeed(core.seed, id))
      this.d = bootData(core.code.loops, this.rng.state)
    } else {
      this.rng = Rng.fromState(data.rng)
      // Snapshots from before accesses could stop part-way have no `part`.
      data.part ??= 0
      if (!Number.isSafeInteger(data.part) || data.part < 0) throw new TypeError(`vCPU ${id}: part must be a non-negative integer`)
      this.d = data
    }
  }

  // HcHost
  get hypercallExit (): boolean { return this.core.hypercallExit }
  get kvmAbi (): KvmAbi { return this.core.kvmAbi }
  interruptPending (): boolean { return this.d.interrupt }
  takeInterrupt (): void {
    if (this.d.interrupt) { this.d.interrupt = false; this.d.counters.interrupts++ }
  }

  injectInterrupt (): void { this.d.interrupt = true }

  get pendingExit (): ExitRecord | null { return this.d.pending }

  /** The live counters, not a copy (read them, do not keep them). */
  get counters (): Readonly<VcpuCounters> { return this.d.counters }

  info (): VcpuInfo {
    const d = this.d
    return {
      id: this.id,
      state: d.pending !== null ? 'exit_pending' : d.halted ? 'halted' : 'runnable',
      pending_exit: d.pending !== null ? d.pending.exit : null,
      counters: { ...d.counters }
    }
  }

  /** What the guest last saw from a conversion hypercall (for tests and diagnostics). */
  get lastHypercall (): { ret: number, r11?: number } | null { return this.d.lastHypercall }

  /** A deep copy of the state as plain JSON-able data. */
  toJSON (): VcpuData {
    this.d.rng = this.rng.state
    return structuredClone(this.d)
  }

  /**
   * Runs until about `budget` work units are spent: one per op, one per page an access
   * checks and one per page it populates. An access that would pass the budget stops at a
   * page boundary and resumes there on the next run (VcpuData.part), so a slice's cost
   * stays bounded whatever the guest's access sizes, and the exits are the same whatever
   * the budgets.
   */
  run (budget: number): StepResult {
    const d = this.d
    if (d.pending !== null) return PENDING
    if (d.halted) return HALTED
    if (d.decided !== null) {
      const exit = this.applyDecision()
      if (exit !== null) return { kind: 'exit', exit }
    }
    const ops = this.ops
    this.budget = budget
    this.spent = 0
    while (this.spent < budget) {
      // The guest takes a pending interrupt at the next instruction boundary (not inside an
      // access it has begun); inside a conversion hypercall it waits (TDX MapGPA returns
      // RETRY for it instead).
      if (d.interrupt && d.hc === null && d.part === 0) this.takeInterrupt()
      if (d.pc >= ops.length) {
        d.halted = true
        return HALTED
      }
      const op = ops[d.pc] as CodeOp
      // Fast path: a sweep runs its touches in a tight loop while none exits.
      if (op.k === OP_SWEEP) {
        const base = this.base(op)
        let sub = d.sub
        while (this.spent < budget && sub < op.n) {
          const r = this.touch(base + sub * op.stride, op.size, op.cbit)
          if (r === ACCESS_PARTIAL) break
          if (r !== ACCESS_OK) {
            d.sub = sub
            return { kind: 'exit', exit: this.accessExit(r, op) }
          }
          d.counters.accesses++
          sub++
          if (d.interrupt) break
        }
        if (sub >= op.n) { d.sub = 0; d.pc++ } else d.sub = sub
        continue
      }
      const before = this.spent
      const exit = this.step(op)
      if (exit !== null) return { kind: 'exit', exit }
      if (this.spent === before) this.spent++
    }
    return YIELD
  }

  /** One access, resumed where the last run stopped it; counts its work units. */
  private touch (gpa: number, size: number, cbit: boolean): AccessResult {
    const d = this.d
    const from = d.part
    const fault = this.fault
    const r = fault.access(gpa, size, cbit, from, this.budget - this.spent)
    this.spent += fault.at - from
    d.part = r === ACCESS_PARTIAL ? fault.at : 0
    return r
  }

  /** vCPU n's first byte of op: gpa + n * vcpu_stride (TDX shared accesses add the shared bit). */
  private base (op: CodeOp): number {
    const gpa = op.gpa + this.id * op.vstride
    return op.tdxShared && !this.fault.hasSharedBit(gpa) ? gpa + this.fault.sharedBit : gpa
  }

  private step (op: CodeOp): ExitRecord | null {
    const d = this.d
    switch (op.k) {
      case OP_READ:
      case OP_WRITE:
      case OP_MMIO_READ:
      case OP_MMIO_WRITE: {
        const r = this.touch(this.base(op), op.size, op.cbit)
        if (r === ACCESS_PARTIAL) return null
        if (r !== ACCESS_OK) return this.accessExit(r, op)
        d.counters.accesses++
        d.pc++
        return null
      }
      case OP_PV_ACCESS: {
        // KVM's own access for the guest: a fault fills memory_fault and is then suppressed
        // (the access is dropped); the stale data rides on this vCPU's next exit.
        const r = this.touch(this.base(op), op.size, op.cbit)
        if (r === ACCESS_PARTIAL) return null
        if (r === ACCESS_OK) d.counters.accesses++
        else if (r === ACCESS_MEMORY_FAULT) {
          const f = this.fault.info
          d.stale = { flags: f.flags, gpa: f.gpa, size: f.size }
        }
        d.pc++
        return null
      }
      case OP_MAP_GPA:
        return this.beginMapGpa(this.base(op), op.n, op.priv, op)
      case OP_OUT:
        return this.emit(ioExit(this.core.nextExitId(), this.id, KVM_EXIT_IO_OUT, op.size, op.port, op.value), 'advance')
      case OP_IN:
        return this.emit(ioExit(this.core.nextExitId(), this.id, KVM_EXIT_IO_IN, op.size, op.port, 0), 'advance')
      case OP_HLT:
        return this.emit(hltExit(this.core.nextExitId(), this.id), 'advance')
      case OP_SHUTDOWN:
        return this.emit(shutdownExit(this.core.nextExitId(), this.id), 'reset')
      case OP_PANIC:
        // pvpanic / the guest's crash notifier: KVM_SYSTEM_EVENT_CRASH with no data.
        return this.emit(systemEventExit(this.core.nextExitId(), this.id, KVM_SYSTEM_EVENT_CRASH, []), 'terminal')
      case OP_LOOP_START:
        if (op.count >= 0) d.loops[op.loop] = op.count
        d.pc++
        return null
      case OP_LOOP_END: {
        const start = this.ops[op.target] as CodeOp
        if (start.count < 0) { d.pc = op.target + 1; return null }
        const left = (d.loops[op.loop] as number) - 1
        d.loops[op.loop] = left
        d.pc = left > 0 ? op.target + 1 : d.pc + 1
        return null
      }
      case OP_RANDOM:
        return this.randomStep(op)
      default:
        throw new Error(`unknown compiled op ${op.k}`)
    }
  }

  /** One `random` iteration: a one-page map_gpa (map_ratio) or an 8-byte access. */
  private randomStep (op: CodeOp): ExitRecord | null {
    const d = this.d
    let draw = d.draw
    if (draw === null) {
      draw = this.drawRandom(op)
      d.draw = draw
    }
    if (draw.map) return this.beginMapGpa(draw.gpa, 1, draw.priv, op)
    const r = this.touch(draw.gpa, 8, draw.priv)
    if (r === ACCESS_PARTIAL) return null
    if (r !== ACCESS_OK) return this.accessExit(r, op, draw.write)
    d.counters.accesses++
    this.advance()
    return null
  }

  private drawRandom (op: CodeOp): RandomDraw {
    const rng = this.rng
    const gpa = op.gpa + this.id * op.vstride
    if (rng.next() < op.mapRatio) {
      const first = Math.ceil(gpa / PAGE_SIZE)
      const pages = Math.floor((gpa + op.size) / PAGE_SIZE) - first
      if (pages > 0) {
        const page = (first + rng.nextInt(pages)) * PAGE_SIZE
        return { map: true, gpa: page, priv: rng.next() < op.privateRatio, write: false }
      }
    }
    let at = gpa + 8 * rng.nextInt(Math.max(1, Math.floor(op.size / 8)))
    const priv = rng.next() < op.privateRatio
    const write = rng.next() < op.writeRatio
    // TDX: a shared access carries the shared bit (validation keeps the range below it).
    if (this.core.type === 'tdx' && !priv) at += this.fault.sharedBit
    return { map: false, gpa: at, priv, write }
  }

  /** An access that did not complete: KVM_EXIT_MEMORY_FAULT, or KVM_EXIT_MMIO (no memslot, shared). */
  private accessExit (r: AccessResult, op: CodeOp, write = op.write): ExitRecord {
    const f = this.fault.info
    const id = this.core.nextExitId()
    if (r === ACCESS_MMIO) {
      const value = op.k === OP_MMIO_WRITE ? op.value : 0
      return this.emit(mmioExit(id, this.id, f.mmioGpa, f.mmioLen, write, value), 'advance')
    }
    this.d.convertible = f.convertible
    return this.emit(memoryFaultExit(id, this.id, f.errno, f), 'access')
  }

  private beginMapGpa (gpa: number, npages: number, priv: boolean, op: CodeOp): ExitRecord | null {
    const d = this.d
    let r: HcResult
    if (this.tdx !== null) {
      const b = this.tdx.begin(gpa, npages, priv)
      d.hc = b.state
      r = b.result
    } else if (this.snp !== null) {
      const b = op.msr ? this.snp.beginMsr(gpa, npages, priv) : this.snp.beginGhcb(gpa, npages, priv, op.pageSize, op.pscEntries)
      d.hc = b.state
      r = b.result
    } else {
      d.hc = { kind: 'kvm_hc' }
      r = mapGpaRangeBegin(this, gpa, npages, priv, op.pageSize)
    }
    return this.hcResult(r)
  }

  private hcResult (r: HcResult): ExitRecord | null {
    const d = this.d
    switch (r.t) {
      case 'exit': {
        // snp_begin_psc_msr / snp_do_psc write nr, ret and args[0..2] only: flags is stale.
        const flags = this.snp !== null ? d.runFlags ?? 0 : KVM_EXIT_HYPERCALL_LONG_MODE
        return this.emit(mapGpaRangeExit(this.core.nextExitId(), this.id, r.gpa, r.npages, r.attrs, flags), 'hc')
      }
      case 'done':
        d.hc = null
        if (r.error) d.counters.hypercall_errors++
        d.lastHypercall = r.r11 === undefined ? { ret: r.ret } : { ret: r.ret, r11: r.r11 }
        this.advance()
        return null
      case 'fatal':
        d.hc = null
        d.counters.hypercall_errors++
        d.lastHypercall = r.r11 === undefined ? { ret: r.ret } : { ret: r.ret, r11: r.r11 }
        return this.emit(systemEventExit(this.core.nextExitId(), this.id, r.type, r.data), 'terminal')
    }
  }

  private completeHypercall (ret: number): ExitRecord | null {
    const hc = this.d.hc as HcState
    switch (hc.kind) {
      case 'kvm_hc': return this.hcResult(mapGpaRangeComplete(ret))
      case 'tdx': return this.hcResult((this.tdx as TdxMapGpa).complete(hc, ret))
      case 'snp_msr': return this.hcResult((this.snp as SnpPsc).completeMsr(hc, ret))
      case 'snp_ghcb': return this.hcResult((this.snp as SnpPsc).completeGhcb(hc, ret))
    }
  }

  /** The op at pc is done with one unit of work: the next touch/iteration, or the next op. */
  private advance (): void {
    const d = this.d
    const op = this.ops[d.pc] as CodeOp
    d.draw = null
    if (op.k === OP_SWEEP || op.k === OP_RANDOM) {
      d.sub++
      if (d.sub < op.n) return
      d.sub = 0
    }
    d.pc++
  }

  private emit (exit: ExitRecord, completion: Completion): ExitRecord {
    const d = this.d
    // A stale memory_fault rides on the next exit beside its real payload; a genuine memory
    // fault replaces it (docs/spec/kvm-abi.md section 7).
    if (d.stale !== null && exit.exit_reason !== KVM_EXIT_MEMORY_FAULT) exit.memory_fault = d.stale
    d.stale = null
    // The kvm_run word under hypercall.flags: hypercall exits write it, and so does
    // system_event.data[7] (same offset in the union).
    if (exit.hypercall !== undefined) d.runFlags = exit.hypercall.flags
    else if (exit.system_event !== undefined && exit.system_event.ndata > 7) d.runFlags = exit.system_event.data[7] as number
    d.pending = exit
    d.completion = completion
    d.counters.exits++
    return exit
  }

  /**
   * Userspace's answer to the pending exit: validated now, applied on the next run (as
   * KVM's complete_userspace_io runs at the next KVM_RUN). The exit stops pending at once.
   */
  decide (exitId: number, decision: Decision): DecisionOutcome {
    const d = this.d
    const plan = this.plan(exitId, decision)
    if (plan.convert !== undefined) this.core.convert(plan.convert.gpa, plan.convert.size, plan.convert.priv)
    d.pending = null
    d.completion = null
    d.decided = plan.applied
    // kill, and reset/terminal outcomes: this vCPU runs no more until the VM is reset.
    if (plan.applied === null) d.halted = true
    return plan.outcome
  }

  /** What decide() would do, or its refusal (thrown); nothing changes. */
  plan (exitId: number, decision: Decision): DecisionPlan {
    const d = this.d
    if (d.pending === null || d.pending.exit !== exitId) {
      throw new KvmError('EXIT_NOT_PENDING', `exit ${exitId} is not pending on vCPU ${this.id}`)
    }
    const restrictRet = this.core.kvmAbi !== '6.19' && (this.tdx !== null || this.snp !== null)
    return planDecision(d.pending, d.completion === 'access' && d.convertible, decision, { restrictRet })
  }

  private applyDecision (): ExitRecord | null {
    const d = this.d
    const a = d.decided
    d.decided = null
    if (a === null) return null
    switch (a.kind) {
      case 'reexec': return null
      case 'mce':
        // The VMM injected #MC: the guest's handler abandons the poisoned access (kvm-fidelity.md).
        d.counters.machine_checks++
        this.advance()
        return null
      case 'advance':
        this.advance()
        return null
      case 'hc':
        return this.completeHypercall(a.ret)
    }
  }
}

// A vCPU's whole state as plain JSON-able data: it goes into snapshots as it is.
import type { ExitRecord, MemoryFault, VcpuCounters } from '../types.js'
import type { TdxMapGpaState } from '../hypercall/tdx-map-gpa.js'
import type { SnpGhcbState, SnpMsrState } from '../hypercall/snp-psc.js'

/** KVM_HC_MAP_GPA_RANGE in flight (one exit; the state is only its kind). */
export interface KvmHcState { kind: 'kvm_hc' }
export type HcState = KvmHcState | TdxMapGpaState | SnpMsrState | SnpGhcbState

/** One `random` iteration's draw, kept until the iteration completes (a fault re-executes it). */
export interface RandomDraw {
  map: boolean
  /** The access's gpa (TDX: shared bit included) or the page to convert. */
  gpa: number
  priv: boolean
  write: boolean
}

/**
 * What the pending exit needs to complete (KVM's complete_userspace_io):
 * - access: a memory fault; running again re-executes the access (EHWPOISON: see Applied mce)
 * - advance: IO, MMIO, HLT; the guest continues after the instruction
 * - hc: a conversion hypercall; hypercall.ret decides what the guest sees
 * - terminal: the guest terminated itself (CRASH, SEV_TERM, TDX_FATAL); only kill or reset
 * - reset: KVM_EXIT_SHUTDOWN (triple fault); running again means the VMM resets the machine
 */
export type Completion = 'access' | 'advance' | 'hc' | 'terminal' | 'reset'

/** A recorded decision, applied when the vCPU next runs. */
export type Applied =
  | { kind: 'reexec' }
  | { kind: 'mce' }
  | { kind: 'advance' }
  | { kind: 'hc', ret: number }

/** What the guest last saw from a conversion hypercall (RAX, or the TDVMCALL status and r11). */
export interface HypercallOutcome { ret: number, r11?: number }

export interface VcpuData {
  pc: number
  /** Progress inside the op at pc: sweep touches or random iterations done. */
  sub: number
  /**
   * Work units already done of the access at pc/sub, which the last run stopped at a page
   * boundary (FaultPath.access `from`); 0 when no access is in progress.
   */
  part: number
  /** Remaining iterations per loop slot. */
  loops: number[]
  draw: RandomDraw | null
  hc: HcState | null
  rng: number[]
  interrupt: boolean
  halted: boolean
  pending: ExitRecord | null
  completion: Completion | null
  /** For a pending memory fault: whether converting can fix it (FaultInfo.convertible). */
  convertible: boolean
  decided: Applied | null
  /** memory_fault KVM filled and then suppressed (docs/spec/kvm-abi.md section 7): rides on the next exit. */
  stale: MemoryFault | null
  counters: VcpuCounters
  lastHypercall: HypercallOutcome | null
  /**
   * The kvm_run word under hypercall.flags, as the last exit left it (kvm_run is one page per
   * vCPU, zeroed at creation, and the exit payloads share a union). SNP exits never write it.
   */
  runFlags: number
}

export function bootData (loops: number, rng: number[]): VcpuData {
  return {
    pc: 0,
    sub: 0,
    part: 0,
    loops: new Array<number>(loops).fill(0),
    draw: null,
    hc: null,
    rng,
    interrupt: false,
    halted: false,
    pending: null,
    completion: null,
    convertible: false,
    decided: null,
    stale: null,
    counters: { accesses: 0, exits: 0, hypercall_errors: 0, machine_checks: 0, interrupts: 0 },
    lastHypercall: null,
    runFlags: 0
  }
}

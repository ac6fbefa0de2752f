// TDG.VP.VMCALL<MapGPA> on a TDX VM: KVM's side mirrors arch/x86/kvm/vmx/tdx.c
// (tdx_map_gpa, __tdx_map_gpa, tdx_complete_vmcall_map_gpa); the guest's side mirrors Linux's
// arch/x86/coco/tdx/tdx.c tdx_map_gpa (RETRY loop, at most 3 retries without progress).
import {
  EAGAIN, KVM_MAP_GPA_RANGE_DECRYPTED, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_SYSTEM_EVENT_TDX_FATAL,
  PAGE_SIZE, TDVMCALL_STATUS_ALIGN_ERROR, TDVMCALL_STATUS_INVALID_OPERAND, TDVMCALL_STATUS_RETRY,
  TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED, TDVMCALL_STATUS_SUCCESS, TDX_MAP_GPA_MAX_LEN
} from '../constants.js'
import { foldU64 } from './result.js'
import type { HcHost, HcResult } from './result.js'

/** tdx_report_fatal_error dumps 16 GPRs (system_event.ndata = 16). */
export const TDX_FATAL_NDATA = 16
/** Linux's tdx_map_gpa: max_retries_per_page. */
const MAX_RETRIES = 3

/** Plain-data state of one MapGPA in flight (it goes into snapshots as is). */
export interface TdxMapGpaState {
  kind: 'tdx'
  /** Guest: the range still to convert, shared bit included (r12 .. r12 + r13). */
  start: number
  end: number
  /** Guest: RETRYs in a row that made no progress. */
  retries: number
  /** KVM: map_gpa_next / map_gpa_end, shared bit included. */
  next: number
  mapEnd: number
}

/**
 * A TDVMCALL status (a u64) as a JSON-safe integer: the low 32 bits with bit 63 folded down
 * to bit 32, so INVALID_OPERAND (2^63) is 2^32, ALIGN_ERROR 2^32 + 2, SUBFUNC_UNSUPPORTED
 * 2^32 + 3, RETRY 1, SUCCESS 0.
 */
export function tdvmcallStatusCode (status: bigint): number {
  return foldU64(status)
}

export class TdxMapGpa {
  constructor (
    private readonly host: HcHost,
    /** 2^(gpaw-1) */
    private readonly sharedBit: number,
    private readonly gpaw: 48 | 52
  ) {}

  private isPrivateGpa (gpa: number): boolean {
    // vt_is_tdx_private_gpa: the shared bit is clear.
    return !(gpa >= this.sharedBit && Math.floor(gpa / this.sharedBit) % 2 === 1)
  }

  /** The guest converts [gpa, gpa + npages * 4096); `priv` false sets the shared bit (cc_mkdec). */
  begin (gpa: number, npages: number, priv: boolean): { state: TdxMapGpaState, result: HcResult } {
    const start = priv ? gpa : gpa + this.sharedBit
    const state: TdxMapGpaState = { kind: 'tdx', start, end: start + npages * PAGE_SIZE, retries: 0, next: 0, mapEnd: 0 }
    return { state, result: this.call(state) }
  }

  /** One TDG.VP.VMCALL<MapGPA> with r12 = start, r13 = end - start: KVM's tdx_map_gpa. */
  private call (s: TdxMapGpaState): HcResult {
    const gpa = s.start
    const size = s.end - s.start
    // tdx_map_gpa's error path writes r11 = the gpa (r12) for each of its three checks.
    if (!this.host.hypercallExit) return this.guestSees(s, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED, gpa)
    const limit = 2 ** this.gpaw
    // kvm_vcpu_is_legal_gpa on both ends; the range may not straddle the shared bit.
    if (gpa + size <= gpa || gpa >= limit || gpa + size - 1 >= limit ||
        this.isPrivateGpa(gpa) !== this.isPrivateGpa(gpa + size - 1)) {
      return this.guestSees(s, TDVMCALL_STATUS_INVALID_OPERAND, gpa)
    }
    if (gpa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) return this.guestSees(s, TDVMCALL_STATUS_ALIGN_ERROR, gpa)
    s.next = gpa
    s.mapEnd = gpa + size
    return this.chunk(s)
  }

  /** __tdx_map_gpa: one exit of at most TDX_MAP_GPA_MAX_LEN, the shared bit stripped. */
  private chunk (s: TdxMapGpaState): HcResult {
    const rest = s.mapEnd - s.next
    const size = rest > TDX_MAP_GPA_MAX_LEN ? TDX_MAP_GPA_MAX_LEN : rest
    const priv = this.isPrivateGpa(s.next)
    return {
      t: 'exit',
      gpa: priv ? s.next : s.next - this.sharedBit,
      npages: size / PAGE_SIZE,
      attrs: priv ? KVM_MAP_GPA_RANGE_ENCRYPTED : KVM_MAP_GPA_RANGE_DECRYPTED
    }
  }

  /**
   * tdx_complete_vmcall_map_gpa, when userspace runs the vCPU again with hypercall.ret. Before
   * kvm-x86 "Allow userspace to return errors to guest for MAPGPA" any non-zero ret is
   * INVALID_OPERAND; since, EAGAIN is RETRY and EINVAL INVALID_OPERAND (other values never
   * get here: KVM_RUN fails with EINVAL, and the decision is refused). r11 = map_gpa_next.
   */
  complete (s: TdxMapGpaState, ret: number): HcResult {
    if (ret !== 0) {
      const retry = this.host.kvmAbi !== '6.19' && ret === EAGAIN
      return this.guestSees(s, retry ? TDVMCALL_STATUS_RETRY : TDVMCALL_STATUS_INVALID_OPERAND, s.next)
    }
    // Advances by the maximum, not the chunk: chunks after the first start 2 MiB apart.
    s.next += TDX_MAP_GPA_MAX_LEN
    // Success leaves r11 as the guest set it (the leaf number): not reported.
    if (s.next >= s.mapEnd) return { t: 'done', error: false, ret: tdvmcallStatusCode(TDVMCALL_STATUS_SUCCESS) }
    // kvm_vcpu_has_events: stop so the guest can take the interrupt, and say where to resume.
    if (this.host.interruptPending()) return this.guestSees(s, TDVMCALL_STATUS_RETRY, s.next)
    return this.chunk(s)
  }

  /** The TDVMCALL returns to the guest with r10 = status, r11: Linux's tdx_map_gpa decides. */
  private guestSees (s: TdxMapGpaState, status: bigint, r11: number): HcResult {
    const code = tdvmcallStatusCode(status)
    if (status === TDVMCALL_STATUS_RETRY) {
      // r11 comes from the untrusted VMM: Linux checks it lies in [start, end).
      if (r11 >= s.start && r11 < s.end) {
        if (r11 === s.start) s.retries++
        else { s.start = r11; s.retries = 0 }
        if (s.retries < MAX_RETRIES) {
          // The interrupt is delivered when the TD re-enters; the guest then calls again.
          this.host.takeInterrupt()
          return this.call(s)
        }
      }
    }
    // Any other outcome fails the conversion; the modelled Linux guest reports a fatal
    // error (TDG.VP.VMCALL<ReportFatalError>), which KVM turns into TDX_FATAL.
    const data = new Array<number>(TDX_FATAL_NDATA).fill(0)
    data[0] = code
    return { t: 'fatal', type: KVM_SYSTEM_EVENT_TDX_FATAL, data, ret: code, r11 }
  }
}

// SNP page state changes (arch/x86/kvm/svm/sev.c): the GHCB MSR protocol
// (snp_begin_psc_msr / snp_complete_psc_msr: one 4 KiB page per exit) and the GHCB PSC
// request (snp_begin_psc / snp_do_psc / snp_complete_one_psc: at most VMGEXIT_PSC_MAX_COUNT
// entries, adjacent entries merged into one KVM_HC_MAP_GPA_RANGE exit). The guest side follows
// Linux (arch/x86/coco/sev: early_set_pages_state, __set_pages_state with at most
// VMGEXIT_PSC_MAX_ENTRY entries a request): any failure ends in
// sev_es_terminate(SEV_TERM_SET_LINUX, GHCB_TERM_PSC).
import {
  GHCB_MSR_PSC_RESP_ERROR, GHCB_MSR_TERM_REQ, GHCB_TERM_PSC, KVM_MAP_GPA_RANGE_DECRYPTED,
  KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MAP_GPA_RANGE_PAGE_SZ_2M, KVM_MAP_GPA_RANGE_PAGE_SZ_4K,
  KVM_SYSTEM_EVENT_SEV_TERM, PAGE_SIZE, SEV_TERM_SET_LINUX, VMGEXIT_PSC_ERROR_GENERIC,
  VMGEXIT_PSC_ERROR_INVALID_ENTRY, VMGEXIT_PSC_ERROR_INVALID_HDR, VMGEXIT_PSC_MAX_COUNT
} from '../constants.js'
import type { PageSizeName } from '../program/types.js'
import { foldU64 } from './result.js'
import type { HcHost, HcResult } from './result.js'

/** 4 KiB pages in a 2 MiB PSC entry. */
export const PSC_2M_PAGES = 512
/** GHCB_MSR_PSC_RESP_ERROR as the guest's status: bit 63 folded to bit 32 (2^32 + 0x15). */
export const PSC_MSR_ERROR_CODE = foldU64(GHCB_MSR_PSC_RESP_ERROR)
/** The GHCB MSR value of the guest's termination request: system_event.data[0] of SEV_TERM. */
export const SEV_TERM_PSC_MSR = GHCB_MSR_TERM_REQ | (SEV_TERM_SET_LINUX << 12) | (GHCB_TERM_PSC << 16)

export interface SnpMsrState {
  kind: 'snp_msr'
  gfn: number
  npages: number
  /** Pages done so far. */
  done: number
  priv: boolean
}

/**
 * The entries of one map_gpa are arithmetic, so only counters are kept: `huge` 2 MiB entries
 * from gfn, then 4 KiB entries for the rest. Requests take `perRequest` entries each.
 */
export interface SnpGhcbState {
  kind: 'snp_ghcb'
  gfn: number
  npages: number
  priv: boolean
  /** Entries the guest puts in one request (Linux: VMGEXIT_PSC_MAX_ENTRY). */
  perRequest: number
  /** Number of 2 MiB entries at the start. */
  huge: number
  /** Entries in all. */
  entries: number
  /** First entry of the current request, and its end (exclusive). */
  reqStart: number
  reqEnd: number
  /** hdr.cur_entry: next entry to process; inflight: entries in the run userspace holds. */
  cur: number
  inflight: number
}

const terminate = (ret: number): HcResult =>
  ({ t: 'fatal', type: KVM_SYSTEM_EVENT_SEV_TERM, data: [SEV_TERM_PSC_MSR], ret })

export class SnpPsc {
  constructor (private readonly host: HcHost) {}

  /** MSR protocol: the guest changes one page per request, looping over the range. */
  beginMsr (gpa: number, npages: number, priv: boolean): { state: SnpMsrState, result: HcResult } {
    // The request carries a gfn (GHCB_MSR_PSC_REQ_GFN): an unaligned gpa is rounded down.
    const state: SnpMsrState = { kind: 'snp_msr', gfn: Math.floor(gpa / PAGE_SIZE), npages, done: 0, priv }
    return { state, result: this.msrRequest(state) }
  }

  private msrRequest (s: SnpMsrState): HcResult {
    // snp_begin_psc_msr: no exit enabled → GHCB_MSR_PSC_RESP_ERROR, and the guest terminates.
    if (!this.host.hypercallExit) return terminate(PSC_MSR_ERROR_CODE)
    const attrs = (s.priv ? KVM_MAP_GPA_RANGE_ENCRYPTED : KVM_MAP_GPA_RANGE_DECRYPTED) | KVM_MAP_GPA_RANGE_PAGE_SZ_4K
    return { t: 'exit', gpa: (s.gfn + s.done) * PAGE_SIZE, npages: 1, attrs }
  }

  /** snp_complete_psc_msr (ret is 0, EAGAIN or EINVAL here: see decide.ts), then the next page. */
  completeMsr (s: SnpMsrState, ret: number): HcResult {
    if (ret !== 0) return terminate(PSC_MSR_ERROR_CODE)
    s.done++
    if (s.done >= s.npages) return { t: 'done', error: false, ret: 0 }
    return this.msrRequest(s)
  }

  /**
   * GHCB protocol. The guest builds one entry per 4 KiB page, or per 2 MiB when page_size is
   * "2m" or "1g" (no 1 GiB PSC entries exist; whole 512-page runs only, the rest 4 KiB).
   */
  beginGhcb (gpa: number, npages: number, priv: boolean, pageSize: PageSizeName, perRequest: number): { state: SnpGhcbState, result: HcResult } {
    const huge = pageSize === '4k' ? 0 : Math.floor(npages / PSC_2M_PAGES)
    const entries = huge + (npages - huge * PSC_2M_PAGES)
    const state: SnpGhcbState = {
      kind: 'snp_ghcb',
      gfn: Math.floor(gpa / PAGE_SIZE),
      npages,
      priv,
      perRequest,
      huge,
      entries,
      reqStart: 0,
      reqEnd: Math.min(entries, perRequest),
      cur: 0,
      inflight: 0
    }
    return { state, result: this.beginRequest(state) }
  }

  /** snp_begin_psc: a new request (hdr.cur_entry 0, hdr.end_entry its last entry). */
  private beginRequest (s: SnpGhcbState): HcResult {
    if (!this.host.hypercallExit) return terminate(VMGEXIT_PSC_ERROR_GENERIC)
    // end_idx >= max_nr_entries: the header names more entries than the GHCB buffer holds.
    if (s.reqEnd - s.reqStart > VMGEXIT_PSC_MAX_COUNT) return terminate(VMGEXIT_PSC_ERROR_INVALID_HDR)
    return this.beginPsc(s)
  }

  private entryGfn (s: SnpGhcbState, i: number): number {
    return i < s.huge ? s.gfn + i * PSC_2M_PAGES : s.gfn + s.huge * PSC_2M_PAGES + (i - s.huge)
  }

  /** snp_do_psc: the next run of mergeable entries in the current request. */
  private beginPsc (s: SnpGhcbState): HcResult {
    if (s.cur >= s.reqEnd) {
      // The request is done (snp_complete_psc(svm, 0)); the guest sends the next one.
      if (s.reqEnd >= s.entries) return { t: 'done', error: false, ret: 0 }
      s.reqStart = s.reqEnd
      s.reqEnd = Math.min(s.entries, s.reqStart + s.perRequest)
      s.cur = s.reqStart
      return this.beginRequest(s)
    }
    const huge = s.cur < s.huge
    const gfn = this.entryGfn(s, s.cur)
    // A 2 MiB entry must name a 2 MiB-aligned gfn (IS_ALIGNED(gfn, npages)).
    if (huge && gfn % PSC_2M_PAGES !== 0) return terminate(VMGEXIT_PSC_ERROR_INVALID_ENTRY)
    // Merge following entries with the same operation and page size and contiguous gfns
    // (by construction, entries of one map_gpa are contiguous with one operation).
    s.inflight = (huge ? Math.min(s.reqEnd, s.huge) : s.reqEnd) - s.cur
    const npages = huge ? s.inflight * PSC_2M_PAGES : s.inflight
    const attrs = (s.priv ? KVM_MAP_GPA_RANGE_ENCRYPTED : KVM_MAP_GPA_RANGE_DECRYPTED) |
      (huge ? KVM_MAP_GPA_RANGE_PAGE_SZ_2M : KVM_MAP_GPA_RANGE_PAGE_SZ_4K)
    return { t: 'exit', gpa: gfn * PAGE_SIZE, npages, attrs }
  }

  /** snp_complete_one_psc: ret != 0 (EAGAIN or EINVAL) fails the request; earlier runs stay done. */
  completeGhcb (s: SnpGhcbState, ret: number): HcResult {
    if (ret !== 0) return terminate(VMGEXIT_PSC_ERROR_GENERIC)
    s.cur += s.inflight
    s.inflight = 0
    return this.beginPsc(s)
  }
}

// KVM_HC_MAP_GPA_RANGE as a guest's VMCALL (arch/x86/kvm/x86.c kvm_emulate_hypercall and
// complete_hypercall_exit), used by DEFAULT and SW_PROTECTED VMs (docs/spec/kvm-abi.md section 5).
import {
  GPA_LIMIT, KVM_EINVAL, KVM_ENOSYS, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MAP_GPA_RANGE_PAGE_SZ_1G,
  KVM_MAP_GPA_RANGE_PAGE_SZ_2M, KVM_MAP_GPA_RANGE_PAGE_SZ_4K, PAGE_SIZE
} from '../constants.js'
import type { PageSizeName } from '../program/types.js'
import type { HcHost, HcResult } from './result.js'

/** args[2] page-size bits for a program's page_size (KVM passes them through unchecked). */
export function pageSizeBits (size: PageSizeName): number {
  return size === '2m' ? KVM_MAP_GPA_RANGE_PAGE_SZ_2M : size === '1g' ? KVM_MAP_GPA_RANGE_PAGE_SZ_1G : KVM_MAP_GPA_RANGE_PAGE_SZ_4K
}

/**
 * gfn + npages "wraps" when it passes the top of the guest physical space: KVM's check is
 * the u64 wrap (gpa_to_gfn(gpa) + npages <= gpa_to_gfn(gpa)); faultline's GPAs stop at 2^52.
 */
export const MAP_GPA_RANGE_GFN_LIMIT = GPA_LIMIT / PAGE_SIZE

/** The guest's VMCALL: KVM's checks (no exit on failure), then the exit. */
export function mapGpaRangeBegin (host: HcHost, gpa: number, npages: number, priv: boolean, pageSize: PageSizeName): HcResult {
  // user_exit_on_hypercall is checked first: without the exit the call does not exist.
  if (!host.hypercallExit) return { t: 'done', error: true, ret: -KVM_ENOSYS }
  if (gpa % PAGE_SIZE !== 0 || npages === 0 || Math.floor(gpa / PAGE_SIZE) + npages > MAP_GPA_RANGE_GFN_LIMIT) {
    return { t: 'done', error: true, ret: -KVM_EINVAL }
  }
  // KVM does not check attrs; QEMU reads only the ENCRYPTED bit.
  const attrs = (priv ? KVM_MAP_GPA_RANGE_ENCRYPTED : 0) | pageSizeBits(pageSize)
  return { t: 'exit', gpa, npages, attrs }
}

/** complete_hypercall_exit: hypercall.ret goes to RAX and the guest continues after VMCALL. */
export function mapGpaRangeComplete (ret: number): HcResult {
  return { t: 'done', error: ret !== 0, ret }
}

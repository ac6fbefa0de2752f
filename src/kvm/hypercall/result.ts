// What one step of a conversion hypercall does next, as plain data the vCPU acts on.
import type { KvmAbi } from '../types.js'

export type HcResult =
  /** Exit to userspace: KVM_EXIT_HYPERCALL nr KVM_HC_MAP_GPA_RANGE with these args. */
  | { t: 'exit', gpa: number, npages: number, attrs: number }
  /** The guest continues after the call; `error` when the guest saw a failure (counted). */
  | { t: 'done', error: boolean, ret: number, r11?: number }
  /** The guest gave up on the failed conversion and terminated: KVM_EXIT_SYSTEM_EVENT. */
  | { t: 'fatal', type: number, data: number[], ret: number, r11?: number }

/** What a conversion hypercall needs from its vCPU. */
export interface HcHost {
  /** KVM_CAP_EXIT_HYPERCALL covers KVM_HC_MAP_GPA_RANGE (user_exit_on_hypercall). */
  readonly hypercallExit: boolean
  /** Which KVM's handling of hypercall.ret the VM follows. */
  readonly kvmAbi: KvmAbi
  /** kvm_vcpu_has_events: an interrupt is pending. */
  interruptPending (): boolean
  /** The guest takes the pending interrupt (its handler runs, then the guest goes on). */
  takeInterrupt (): void
}

/**
 * A u64 status (a TDVMCALL status, a GHCB MSR response) as a JSON-safe integer: the low 32 bits
 * with bit 63 folded down to bit 32, so 0x8000000000000003 is 2^32 + 3. Bits 32..62 are dropped:
 * these statuses do not use them.
 */
export function foldU64 (status: bigint): number {
  return Number(status & 0xffffffffn) + ((status >> 63n) & 1n ? 2 ** 32 : 0)
}

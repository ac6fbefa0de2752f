// What one step of a conversion hypercall does next, as plain data the vCPU acts on.

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
  /** kvm_vcpu_has_events: an interrupt is pending. */
  interruptPending (): boolean
  /** The guest takes the pending interrupt (its handler runs, then the guest goes on). */
  takeInterrupt (): void
}

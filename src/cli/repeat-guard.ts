// The no-guest-memfd loop guard. A private access to a memslot without guest_memfd faults
// with EFAULT PRIVATE, and converting cannot fix it: a VMM that blindly converts and runs
// again meets the very same fault for ever. KVM's documentation tells userspace to guard
// against exactly this (docs/spec/kvm-abi.md section 4 step 4), and so do we: when a vCPU faults on
// the same gpa with the same flags again right after we converted it, `maxRepeats` times
// in a row, the wrapped policy kills the VM instead.
import type { ExitFields } from '../client/types.js'
import { memoryFaultOf } from '../../schemas/exit-reading.js'
import type { AsyncPolicy, PolicyDecision } from './policies.js'

export const DEFAULT_MAX_REPEATS = 3

interface LastConversion { fault: string, repeats: number }

/** Wraps a policy with the loop guard; the state is per (VM, vCPU) and lives in the closure. */
export function withRepeatGuard (policy: AsyncPolicy, maxRepeats = DEFAULT_MAX_REPEATS): AsyncPolicy {
  const last = new Map<string, LastConversion>()
  return async (exit: ExitFields): Promise<PolicyDecision> => {
    const vcpu = `${exit.vm}/${exit.vcpu}`
    const fault = memoryFaultOf(exit)
    if (fault === undefined) {
      // The vCPU made progress past whatever it faulted on.
      last.delete(vcpu)
      return await policy(exit)
    }
    const key = `${fault.gpa}/${fault.flags}/${fault.size}`
    const previous = last.get(vcpu)
    const repeats = previous?.fault === key ? previous.repeats + 1 : 0
    if (repeats >= maxRepeats) {
      last.delete(vcpu)
      return {
        action: 'kill',
        reason: `the same fault (gpa ${fault.gpa}, flags ${fault.flags}) came back ${repeats} times after converting: no guest_memfd?`
      }
    }
    const decision = await policy(exit)
    if (decision.action === 'convert') last.set(vcpu, { fault: key, repeats })
    else last.delete(vcpu)
    return decision
  }
}

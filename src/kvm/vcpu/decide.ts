// Turns userspace's answer to a pending exit into what the vCPU applies when it next runs
// (docs/spec/kvm-abi.md section 6; docs/spec/api-v1.md decision semantics). Pure: the caller performs the
// conversion and records the result. Throws KvmError INVALID_ACTION; nothing changes then.
import {
  EAGAIN, EINVAL, KVM_EXIT_HLT, KVM_EXIT_HYPERCALL, KVM_EXIT_IO, KVM_EXIT_IO_IN, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN, KVM_EXIT_SYSTEM_EVENT, KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED,
  KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN, PAGE_SIZE
} from '../constants.js'
import { isTerminalSystemEvent } from '../exit-record.js'
import type { Decision, DecisionOutcome, ExitRecord } from '../types.js'
import { KvmError } from '../types.js'
import type { Applied } from './state.js'

export interface DecisionPlan {
  applied: Applied | null
  outcome: DecisionOutcome
  /** convert: set [gpa, gpa + size) private or shared first. */
  convert?: { gpa: number, size: number, priv: boolean }
}

const refuse = (exit: ExitRecord, message: string): never => {
  throw new KvmError('INVALID_ACTION', `exit ${exit.exit} (${exit.reason}): ${message}`)
}

const CONTINUE: DecisionOutcome = Object.freeze({ vm: 'continue' }) as DecisionOutcome

/** What the vCPU's VM changes about decisions. */
export interface DecideContext {
  /**
   * The hypercall is a TDX MapGPA or an SNP page state change on a KVM that accepts only
   * 0, EAGAIN and EINVAL in hypercall.ret (kvm_is_valid_map_gpa_range_ret).
   */
  restrictRet: boolean
}

const PLAIN: DecideContext = Object.freeze({ restrictRet: false })

export function planDecision (exit: ExitRecord, convertible: boolean, decision: Decision, ctx: DecideContext = PLAIN): DecisionPlan {
  if (typeof decision !== 'object' || decision === null) return refuse(exit, 'a decision must be an object')
  switch (decision.action) {
    case 'kill': return { applied: null, outcome: { vm: 'kill' } }
    case 'convert': return planConvert(exit, convertible)
    case 'resume': return planResume(exit, decision, ctx)
    default: return refuse(exit, `unknown action ${JSON.stringify((decision as { action?: unknown }).action)}`)
  }
}

function planConvert (exit: ExitRecord, convertible: boolean): DecisionPlan {
  if (exit.exit_reason === KVM_EXIT_MEMORY_FAULT && exit.memory_fault !== undefined && exit.run.ret === -1) {
    if (exit.run.errno === 'EHWPOISON') return refuse(exit, 'EHWPOISON: the page is poisoned; converting does not help (resume with inject "mce", or kill)')
    if (!convertible) {
      return refuse(exit, 'converting cannot fix this fault: the private access has no guest_memfd behind it (no memslot, or a slot without guest_memfd)')
    }
    const mf = exit.memory_fault
    // Set [gpa, gpa + size) to what flags asks for: private iff KVM_MEMORY_EXIT_FLAG_PRIVATE.
    return { applied: { kind: 'reexec' }, outcome: CONTINUE, convert: { gpa: mf.gpa, size: mf.size, priv: (mf.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) !== 0 } }
  }
  if (exit.exit_reason === KVM_EXIT_HYPERCALL && exit.hypercall?.nr === KVM_HC_MAP_GPA_RANGE) {
    const [gpa, npages, attrs] = exit.hypercall.args as [number, number, number]
    // QEMU's kvm_handle_hc_map_gpa_range reads only the ENCRYPTED bit.
    return {
      applied: { kind: 'hc', ret: 0 },
      outcome: CONTINUE,
      convert: { gpa, size: npages * PAGE_SIZE, priv: (attrs & KVM_MAP_GPA_RANGE_ENCRYPTED) !== 0 }
    }
  }
  return refuse(exit, 'convert applies only to KVM_EXIT_MEMORY_FAULT (EFAULT) and KVM_EXIT_HYPERCALL (KVM_HC_MAP_GPA_RANGE)')
}

function planResume (exit: ExitRecord, d: { ret?: number, data?: number[], inject?: unknown }, ctx: DecideContext): DecisionPlan {
  const isHypercall = exit.exit_reason === KVM_EXIT_HYPERCALL
  const readsData = (exit.exit_reason === KVM_EXIT_IO && exit.io?.direction === KVM_EXIT_IO_IN) ||
    (exit.exit_reason === KVM_EXIT_MMIO && exit.mmio?.is_write === false)
  const poisoned = exit.exit_reason === KVM_EXIT_MEMORY_FAULT && exit.run.ret === -1 && exit.run.errno === 'EHWPOISON'
  if (d.ret !== undefined && !isHypercall) refuse(exit, 'ret applies only to a hypercall exit')
  if (d.data !== undefined && !readsData) refuse(exit, 'data applies only to an IO IN or an MMIO read')
  if (d.inject !== undefined) {
    if (d.inject !== 'mce') refuse(exit, 'inject must be "mce"')
    if (!poisoned) refuse(exit, 'inject "mce" applies only to a KVM_EXIT_MEMORY_FAULT with errno EHWPOISON')
  }
  switch (exit.exit_reason) {
    case KVM_EXIT_MEMORY_FAULT:
      // Running again without a conversion re-executes the access; after EHWPOISON it faults
      // again (kvm_gmem_get_pfn keeps returning -EHWPOISON) unless the VMM injects #MC first.
      return { applied: d.inject === 'mce' ? { kind: 'mce' } : { kind: 'reexec' }, outcome: CONTINUE }
    case KVM_EXIT_HYPERCALL: {
      const ret = d.ret ?? 0
      if (!Number.isSafeInteger(ret)) refuse(exit, 'ret must be a safe integer')
      if (ctx.restrictRet && ret !== 0 && ret !== EAGAIN && ret !== EINVAL) {
        // kvm_is_valid_map_gpa_range_ret: KVM_RUN itself would fail with EINVAL.
        throw new KvmError('INVALID_ACTION', `exit ${exit.exit} (${exit.reason}): KVM_RUN fails with EINVAL: hypercall.ret must be 0, EAGAIN (${EAGAIN}) or EINVAL (${EINVAL})`, { errno: 'EINVAL' })
      }
      return { applied: { kind: 'hc', ret }, outcome: CONTINUE }
    }
    case KVM_EXIT_IO: {
      const io = exit.io
      if (io !== undefined && d.data !== undefined) checkData(exit, d.data, io.count, 2 ** (8 * io.size), `${io.size}-byte values`)
      return { applied: { kind: 'advance' }, outcome: CONTINUE }
    }
    case KVM_EXIT_MMIO: {
      const mmio = exit.mmio
      if (mmio !== undefined && d.data !== undefined) checkData(exit, d.data, mmio.len, 256, 'bytes')
      return { applied: { kind: 'advance' }, outcome: CONTINUE }
    }
    case KVM_EXIT_HLT:
      return { applied: { kind: 'advance' }, outcome: CONTINUE }
    case KVM_EXIT_SHUTDOWN:
      return { applied: null, outcome: { vm: 'reset' } }
    case KVM_EXIT_SYSTEM_EVENT: {
      if (isTerminalSystemEvent(exit)) {
        return refuse(exit, 'the guest has terminated (crash, SEV_TERM or TDX_FATAL); kill or reset the VM')
      }
      const t = exit.system_event?.type
      if (t === KVM_SYSTEM_EVENT_SHUTDOWN || t === KVM_SYSTEM_EVENT_RESET) return { applied: null, outcome: { vm: 'reset' } }
      return { applied: { kind: 'advance' }, outcome: CONTINUE }
    }
    default:
      return refuse(exit, 'this exit cannot be resumed')
  }
}

function checkData (exit: ExitRecord, data: unknown, count: number, limit: number, what: string): void {
  if (!Array.isArray(data) || data.length !== count) refuse(exit, `data must hold exactly ${count} ${what}`)
  for (const v of data as unknown[]) {
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) >= limit) refuse(exit, `data values must be integers from 0 to ${limit - 1}`)
  }
}

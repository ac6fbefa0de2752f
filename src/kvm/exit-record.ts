// Builds the exit records clients see (types.ts ExitRecord; docs/spec/kvm-abi.md section 2). One
// payload per exit, named as in kvm_run. KVM_RUN returns -1 with errno only for
// KVM_EXIT_MEMORY_FAULT; every other exit comes with ret 0.
import {
  EXIT_REASON_NAMES, KVM_EXIT_HLT, KVM_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL_LONG_MODE, KVM_EXIT_IO,
  KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN, KVM_EXIT_SYSTEM_EVENT, KVM_HC_MAP_GPA_RANGE,
  KVM_SYSTEM_EVENT_CRASH, KVM_SYSTEM_EVENT_SEV_TERM, KVM_SYSTEM_EVENT_TDX_FATAL
} from './constants.js'
import type { ExitReasonCode } from './constants.js'
import type { ExitRecord, MemoryFault } from './types.js'

const RUN_OK = Object.freeze({ ret: 0 as const })

function base (exit: number, vcpu: number, code: ExitReasonCode): ExitRecord {
  return { exit, vcpu, reason: EXIT_REASON_NAMES[code], exit_reason: code, run: { ...RUN_OK } }
}

export function memoryFaultExit (exit: number, vcpu: number, errno: 'EFAULT' | 'EHWPOISON', fault: MemoryFault): ExitRecord {
  return {
    exit,
    vcpu,
    reason: EXIT_REASON_NAMES[KVM_EXIT_MEMORY_FAULT],
    exit_reason: KVM_EXIT_MEMORY_FAULT,
    run: { ret: -1, errno },
    memory_fault: { flags: fault.flags, gpa: fault.gpa, size: fault.size }
  }
}

/** KVM_EXIT_MMIO: `data` holds len bytes (the value for a write, zeros for a read to fill). */
export function mmioExit (exit: number, vcpu: number, physAddr: number, len: number, isWrite: boolean, value: number): ExitRecord {
  const r = base(exit, vcpu, KVM_EXIT_MMIO)
  r.mmio = { phys_addr: physAddr, len, is_write: isWrite, data: littleEndian(isWrite ? value : 0, len) }
  return r
}

/** KVM_EXIT_IO for one IN or OUT (count 1); an IN's data is a placeholder for userspace to fill. */
export function ioExit (exit: number, vcpu: number, direction: number, size: number, port: number, value: number): ExitRecord {
  const r = base(exit, vcpu, KVM_EXIT_IO)
  r.io = { direction, size, port, count: 1, data: [value] }
  return r
}

/**
 * KVM_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE: args [gpa, npages, attrs, 0, 0, 0], ret pre-set
 * to 0 (so a VMM that never writes it reports success), flags LONG_MODE unless the caller
 * gives what kvm_run already held (SNP: sev.c does not write flags).
 */
export function mapGpaRangeExit (exit: number, vcpu: number, gpa: number, npages: number, attrs: number, flags = KVM_EXIT_HYPERCALL_LONG_MODE): ExitRecord {
  const r = base(exit, vcpu, KVM_EXIT_HYPERCALL)
  r.hypercall = { nr: KVM_HC_MAP_GPA_RANGE, args: [gpa, npages, attrs, 0, 0, 0], ret: 0, flags }
  return r
}

export function hltExit (exit: number, vcpu: number): ExitRecord { return base(exit, vcpu, KVM_EXIT_HLT) }

export function shutdownExit (exit: number, vcpu: number): ExitRecord { return base(exit, vcpu, KVM_EXIT_SHUTDOWN) }

export function systemEventExit (exit: number, vcpu: number, type: number, data: number[]): ExitRecord {
  const r = base(exit, vcpu, KVM_EXIT_SYSTEM_EVENT)
  r.system_event = { type, ndata: data.length, data }
  return r
}

/**
 * A system event after which the guest has terminated itself (a crash, SNP's
 * sev_es_terminate, TDX's ReportFatalError): it cannot be resumed, only killed or reset.
 */
export function isTerminalSystemEvent (exit: ExitRecord): boolean {
  if (exit.exit_reason !== KVM_EXIT_SYSTEM_EVENT || exit.system_event === undefined) return false
  const t = exit.system_event.type
  return t === KVM_SYSTEM_EVENT_CRASH || t === KVM_SYSTEM_EVENT_SEV_TERM || t === KVM_SYSTEM_EVENT_TDX_FATAL
}

/** value as `len` little-endian bytes (kvm_run.mmio.data is a byte array). */
export function littleEndian (value: number, len: number): number[] {
  const out: number[] = []
  let v = value
  for (let i = 0; i < len; i++) {
    out.push(v % 256)
    v = Math.floor(v / 256)
  }
  return out
}

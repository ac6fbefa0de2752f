// One exit of every kind, as the stream sends them, for the policy and format tests.
import type { ExitMessage } from '../../src/client/types.js'

const base = { type: 'exit' as const, vm: 'vm1', seq: 1, vcpu: 0, pending: true }

export const EXITS = {
  faultPrivate: { ...base, exit: 1, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39, run: { ret: -1, errno: 'EFAULT' }, memory_fault: { flags: 8, gpa: 0x1000, size: 4096 } },
  faultShared: { ...base, exit: 2, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39, run: { ret: -1, errno: 'EFAULT' }, memory_fault: { flags: 0, gpa: 0x2000, size: 4096 } },
  poisonPrivate: { ...base, exit: 3, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39, run: { ret: -1, errno: 'EHWPOISON' }, memory_fault: { flags: 8, gpa: 0x3000, size: 4096 } },
  poisonShared: { ...base, exit: 4, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39, run: { ret: -1, errno: 'EHWPOISON' }, memory_fault: { flags: 0, gpa: 0x4000, size: 4096 } },
  mapToShared: { ...base, exit: 5, reason: 'KVM_EXIT_HYPERCALL', exit_reason: 3, run: { ret: 0 }, hypercall: { nr: 12, args: [0x40000000, 512, 0, 0, 0, 0], ret: 0, flags: 1 } },
  mapToPrivate: { ...base, exit: 6, reason: 'KVM_EXIT_HYPERCALL', exit_reason: 3, run: { ret: 0 }, hypercall: { nr: 12, args: [0x40000000, 512, 0x10, 0, 0, 0], ret: 0, flags: 1 } },
  otherHypercall: { ...base, exit: 7, reason: 'KVM_EXIT_HYPERCALL', exit_reason: 3, run: { ret: 0 }, hypercall: { nr: 99, args: [0, 0, 0, 0, 0, 0], ret: 0, flags: 1 } },
  ioOut: { ...base, exit: 8, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 1, size: 2, port: 0x3f8, count: 1, data: [0x41] } },
  ioIn: { ...base, exit: 9, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 0, size: 1, port: 0x60, count: 2, data: [0, 0] } },
  mmioRead: { ...base, exit: 10, reason: 'KVM_EXIT_MMIO', exit_reason: 6, run: { ret: 0 }, mmio: { phys_addr: 0xfee00000, len: 4, is_write: false, data: [0, 0, 0, 0] } },
  mmioWrite: { ...base, exit: 11, reason: 'KVM_EXIT_MMIO', exit_reason: 6, run: { ret: 0 }, mmio: { phys_addr: 0xfee00000, len: 2, is_write: true, data: [1, 2] } },
  hlt: { ...base, exit: 12, reason: 'KVM_EXIT_HLT', exit_reason: 5, run: { ret: 0 } },
  shutdown: { ...base, exit: 13, reason: 'KVM_EXIT_SHUTDOWN', exit_reason: 8, run: { ret: 0 } },
  internalError: { ...base, exit: 14, reason: 'KVM_EXIT_INTERNAL_ERROR', exit_reason: 17, run: { ret: 0 } },
  unknown: { ...base, exit: 15, reason: 'KVM_EXIT_UNKNOWN', exit_reason: 0, run: { ret: 0 } },
  sysShutdown: { ...base, exit: 16, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 1, ndata: 0, data: [] } },
  sysReset: { ...base, exit: 17, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 2, ndata: 0, data: [] } },
  sysCrash: { ...base, exit: 18, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 3, ndata: 0, data: [] } },
  sysWakeup: { ...base, exit: 19, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 4, ndata: 0, data: [] } },
  sysSuspend: { ...base, exit: 20, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 5, ndata: 0, data: [] } },
  sysSevTerm: { ...base, exit: 21, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 6, ndata: 1, data: [0x100] } },
  sysTdxFatal: { ...base, exit: 22, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 7, ndata: 0, data: [] } },
  /** KVM filled memory_fault then suppressed it: the exit is an IO OUT (docs/spec/kvm-abi.md section 7). */
  staleFault: { ...base, exit: 23, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 1, size: 1, port: 0x80, count: 1, data: [1] }, memory_fault: { flags: 8, gpa: 0x5000, size: 4096 } }
} satisfies Record<string, ExitMessage>

export type ExitName = keyof typeof EXITS

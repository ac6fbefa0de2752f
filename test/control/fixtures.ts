// Principals and small VMs for control/ tests.
import type { Principal } from '../../src/auth/types.js'
import type { CreateVmInput } from '../../src/control/index.js'

export const opA: Principal = { tenant: 'a', role: 'operator', id: 'op-a' }
export const obsA: Principal = { tenant: 'a', role: 'observer', id: 'obs-a' }
export const opB: Principal = { tenant: 'b', role: 'operator', id: 'op-b' }
export const admin: Principal = { tenant: 'ops', role: 'admin', id: 'admin' }

/** One port write per vCPU, then the program ends: one KVM_EXIT_IO each, then halted. */
export const OUT_THEN_END = [{ op: 'out', port: 0x80, size: 1, value: 7 }]

export function vmBody (over: Partial<CreateVmInput> = {}): CreateVmInput {
  return { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: OUT_THEN_END, ...over }
}

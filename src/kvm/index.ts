// The KVM core's public surface: what control/ and tests import.
export { Vm, DEFAULT_MAX_INSTRUCTIONS, MAX_VCPUS } from './vm.js'
export type { ExtentPage, VmSnapshot, VmLimits } from './vm.js'
export { isTerminalSystemEvent } from './exit-record.js'
export { AttributeMap } from './attribute-map.js'
export { ExtentMap } from './extent-map.js'
export { KvmError, KVM_ABIS, DEFAULT_KVM_ABI } from './types.js'
export type * from './types.js'
export * from './constants.js'

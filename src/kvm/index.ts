// The KVM core's public surface: what control/ and tests import.
export { Vm } from './vm.js'
export type { ExtentPage, VmSnapshot } from './vm.js'
export { isTerminalSystemEvent } from './exit-record.js'
export { KvmError, DEFAULT_KVM_ABI } from './types.js'
export type * from './types.js'
export * from './constants.js'

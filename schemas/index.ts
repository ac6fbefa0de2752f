// The wire contract in one place: every REST body and answer, every stream message, the KVM
// numbers that cross the wire, the protocol's names and the error-code table. The server
// validates and documents with these schemas; the client takes its types from them.
export * from './common.js'
export * from './errors.js'
export * from './exit.js'
export * from './kvm.js'
export * from './memory.js'
export * from './protocol.js'
export * from './stream.js'
export * from './vm.js'
export * from './exit-reading.js'
export * from './lifecycle.js'
export * from './trace.js'

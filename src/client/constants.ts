// The KVM numbers and protocol names a client needs to read exits, from the wire contract.
export * from '../../schemas/kvm.js'
export { STREAM_PROTOCOL, STREAM_SUBPROTOCOL } from '../../schemas/protocol.js'
export { ERROR_CODES } from '../../schemas/errors.js'
export { TRANSITIONS } from '../../schemas/lifecycle.js'
export { SYSTEM_EVENT_NAMES, systemEventName } from '../../schemas/exit-reading.js'
export { memoryFaultOf, faultWantsPrivate, mapGpaRangeOf, readDataLength, wantsPrivate } from '../../schemas/exit-reading.js'

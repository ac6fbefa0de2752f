// The stream protocol's names: the WebSocket subprotocol a client offers (beside
// `bearer.<token>` in a browser) and the version `hello` announces.

/** The subprotocol of GET /v1/stream; the server selects it and no other. */
export const STREAM_SUBPROTOCOL = 'faultline.v1'
/** The stream protocol version `hello.protocol` announces. */
export const STREAM_PROTOCOL = 1
/** The prefix a browser puts before its token in the offered subprotocols. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.'
/** REST error codes are the stream's with this prefix: FAULTLINE_VM_NOT_FOUND, VM_NOT_FOUND. */
export const REST_CODE_PREFIX = 'FAULTLINE_'

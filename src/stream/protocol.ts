// The WebSocket subprotocol. A browser cannot set Authorization on an upgrade, so it offers
// `faultline.v1` beside `bearer.<token>` (the auth hook reads the token). The server must
// answer with one offered protocol or a browser fails the handshake; it always picks
// `faultline.v1` and never echoes the token (ws would echo the first offer by default).

export const STREAM_SUBPROTOCOL = 'faultline.v1'
/** The stream protocol version `hello` announces. */
export const STREAM_PROTOCOL = 1

/** ws `handleProtocols`: the protocol to accept, or false for none. */
export function selectProtocol (offered: Set<string>): string | false {
  return offered.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false
}

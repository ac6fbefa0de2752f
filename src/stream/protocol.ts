// The WebSocket subprotocol. A browser cannot set Authorization on an upgrade, so it offers
// `faultline.v1` beside `bearer.<token>` (the auth hook reads the token). The server must
// answer with one offered protocol or the client (a browser, or ws) fails the handshake; it
// always picks `faultline.v1` and never echoes the token (ws would echo the first offer by
// default). An upgrade that offers protocols but not `faultline.v1` is refused (400) before
// any socket opens (routes/stream.ts).

import { STREAM_SUBPROTOCOL } from '../../schemas/protocol.js'

/** ws `handleProtocols`: the protocol to accept, or false for none. */
export function selectProtocol (offered: Set<string>): string | false {
  return offered.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false
}

/** Whether an upgrade's Sec-WebSocket-Protocol header is absent or offers faultline.v1. */
export function offersStreamProtocol (header: string | undefined): boolean {
  return header === undefined || header.split(',').some(p => p.trim() === STREAM_SUBPROTOCOL)
}

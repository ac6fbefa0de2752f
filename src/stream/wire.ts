// WebSocket text frames built by the stream itself (RFC 6455 section 5.2), so that an
// event's frame (header and payload) is made once and the same bytes are written to every
// subscriber's socket. A server's frames are never masked, and with no extension
// negotiated (no permessage-deflate) they are the same for every client.

/** One unfragmented text frame (FIN + opcode 1, the payload's length, the payload) of `text`, encoded straight into it: one allocation, one copy. */
export function textFrameOf (text: string): Buffer {
  const n = Buffer.byteLength(text, 'utf8')
  const head = headerLength(n)
  const out = Buffer.allocUnsafe(head + n)
  writeHeader(out, n)
  out.write(text, head, n, 'utf8')
  return out
}

/** The payload of a frame made by textFrameOf: a view, no copy. */
export function framePayload (frame: Buffer): Buffer {
  // The second byte says how long the header is: a length, or 126 / 127 for 2 / 8 bytes more.
  return frame.subarray(frame[1] === 127 ? 10 : frame[1] === 126 ? 4 : 2)
}

/** The header's length for a payload of `n` bytes. */
function headerLength (n: number): number {
  return n < 126 ? 2 : n < 65536 ? 4 : 10
}

function writeHeader (out: Buffer, n: number): void {
  out[0] = 0x81
  if (n < 126) {
    out[1] = n
  } else if (n < 65536) {
    out[1] = 126
    out.writeUInt16BE(n, 2)
  } else {
    out[1] = 127
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2)
    out.writeUInt32BE(n >>> 0, 6)
  }
}

/**
 * The socket under a ws WebSocket, written to directly. Safe because ws writes its own
 * frames synchronously when no extension is negotiated, so whole frames never interleave.
 */
export interface RawTransport {
  write (frame: Buffer): unknown
}

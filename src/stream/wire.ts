// WebSocket text frames built by the stream itself (RFC 6455 section 5.2), so that an
// event's frame (header and payload) is made once and the same bytes are written to every
// subscriber's socket. A server's frames are never masked, and with no extension
// negotiated (no permessage-deflate) they are the same for every client.

/** One unfragmented text frame (FIN + opcode 1, the payload's length, the payload) of `text`, encoded straight into it: one allocation, one copy. */
export function textFrameOf (text: string): Buffer {
  const n = Buffer.byteLength(text, 'utf8')
  const head = headerLength(n)
  const out = Buffer.allocUnsafe(head + n)
  writeHeader(out, n, 0)
  out.write(text, head, n, 'utf8')
  return out
}

/** The whole frame's length (header included) for a payload of `n` bytes. */
export function frameLength (n: number): number {
  return headerLength(n) + n
}

/**
 * Frames, one after another, in one new Buffer: a string becomes a text frame (its UTF-8
 * length given in `payloadBytes`, so it is measured once), a Buffer is a frame already
 * made and is copied as is. `total` is the sum of the frames' lengths.
 */
export function framesOf (items: ReadonlyArray<string | Buffer>, payloadBytes: readonly number[], total: number): Buffer {
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as string | Buffer
    if (typeof item === 'string') {
      const n = payloadBytes[i] as number
      at += writeHeader(out, n, at)
      at += out.write(item, at, n, 'utf8')
    } else {
      at += item.copy(out, at)
    }
  }
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

/** Writes the header of a text frame of `n` payload bytes at `at`; returns its length. */
function writeHeader (out: Buffer, n: number, at: number): number {
  out[at] = 0x81
  if (n < 126) {
    out[at + 1] = n
    return 2
  }
  if (n < 65536) {
    out[at + 1] = 126
    out.writeUInt16BE(n, at + 2)
    return 4
  }
  out[at + 1] = 127
  out.writeUInt32BE(Math.floor(n / 2 ** 32), at + 2)
  out.writeUInt32BE(n >>> 0, at + 6)
  return 10
}

/**
 * The socket under a ws WebSocket, written to directly. Safe because ws writes its own
 * frames synchronously when no extension is negotiated, so whole frames never interleave.
 */
export interface RawTransport {
  write (frame: Buffer): unknown
}

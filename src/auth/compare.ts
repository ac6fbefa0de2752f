// Token comparison in constant time: both sides are hashed to 32 bytes (so lengths never
// differ) and every configured token is compared, with no early exit, so the time taken
// says nothing about which token, or how much of one, matched.
import { createHash, timingSafeEqual } from 'node:crypto'

export function sha256 (s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

/** The index of the digest equal to sha256(presented) among `digests`, or -1. */
export function findDigest (presented: string, digests: readonly Buffer[]): number {
  const h = sha256(presented)
  let found = -1
  for (let i = 0; i < digests.length; i++) {
    // Bitwise, not short-circuit: every comparison runs whatever the earlier ones said.
    const eq = timingSafeEqual(h, digests[i] as Buffer)
    found = eq && found === -1 ? i : found
  }
  return found
}

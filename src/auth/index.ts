// Authentication for REST and the stream: a Bearer token becomes a Principal, or null.
import { findDigest, sha256 } from './compare.js'
import type { TokenEntry } from './tokens.js'
import type { Principal } from './types.js'

export { canControl, canRead, canReadMetrics } from './roles.js'
export { findDigest, sha256 } from './compare.js'
export type { Principal } from './types.js'
export type { TokenEntry } from './tokens.js'

export interface Auth {
  /** The principal a token stands for, or null; constant time over all tokens. */
  authenticate (token: string): Principal | null
  /** The token of an `Authorization: Bearer <token>` header, or null. */
  bearer (header: string | undefined): string | null
}

export function createAuth (entries: readonly TokenEntry[]): Auth {
  const digests = entries.map(e => sha256(e.token))
  const principals: Principal[] = entries.map((e, i) => Object.freeze({
    tenant: e.tenant,
    role: e.role,
    id: (digests[i] as Buffer).toString('hex').slice(0, 16)
  }))
  // Tokens already proven, by their exact string: a request then costs one Map lookup, not
  // a sha256 over every configured token. Only known tokens enter it, so it holds at most
  // one entry per configured token; an unknown token still takes the constant-time path.
  const proven = new Map<string, Principal>()
  return {
    authenticate (token: string): Principal | null {
      const known = proven.get(token)
      if (known !== undefined) return known
      const i = findDigest(token, digests)
      if (i < 0) return null
      const p = principals[i] as Principal
      proven.set(token, p)
      return p
    },
    bearer: parseBearer
  }
}

export function parseBearer (header: string | undefined): string | null {
  if (header === undefined) return null
  // RFC 6750: the scheme is case-insensitive; one space, then the token.
  const m = /^Bearer +(\S+) *$/i.exec(header)
  return m === null ? null : m[1] as string
}

// Where tokens come from (api-v1.md "Server"): FAULTLINE_TOKEN (one admin), a tokens file
// [{"token","tenant","role"}], or neither: a random admin token made at start, printed once
// and written to <data dir>/token with mode 0600.
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROLES } from './types.js'
import type { Role } from './types.js'

export interface TokenEntry { token: string, tenant: string, role: Role }

/** The tenant the single FAULTLINE_TOKEN / generated admin token belongs to. */
export const DEFAULT_TENANT = 'default'
/** Shortest token accepted from configuration: guessable tokens are refused at start. */
export const MIN_TOKEN_LENGTH = 16
const TENANT_RE = /^[A-Za-z0-9_.-]{1,64}$/

export class TokenConfigError extends Error {
  constructor (message: string) { super(message); this.name = 'TokenConfigError' }
}

/** Parses and checks the tokens file's JSON; names the entry and field that is wrong. */
export function parseTokensFile (text: string, file = 'FAULTLINE_TOKENS_FILE'): TokenEntry[] {
  let data: unknown
  try { data = JSON.parse(text) } catch (e) {
    throw new TokenConfigError(`${file}: not valid JSON (${(e as Error).message})`)
  }
  if (!Array.isArray(data) || data.length === 0) throw new TokenConfigError(`${file}: must be a non-empty JSON array of {"token","tenant","role"}`)
  const seen = new Set<string>()
  return data.map((raw: unknown, i): TokenEntry => {
    const at = `${file}[${i}]`
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TokenConfigError(`${at}: must be an object`)
    const o = raw as Record<string, unknown>
    for (const k of Object.keys(o)) {
      if (k !== 'token' && k !== 'tenant' && k !== 'role') throw new TokenConfigError(`${at}: unknown field "${k}"`)
    }
    if (typeof o.token !== 'string' || o.token.length < MIN_TOKEN_LENGTH) throw new TokenConfigError(`${at}.token: must be a string of at least ${MIN_TOKEN_LENGTH} characters`)
    if (/\s/.test(o.token)) throw new TokenConfigError(`${at}.token: must not contain whitespace`)
    if (typeof o.tenant !== 'string' || !TENANT_RE.test(o.tenant)) throw new TokenConfigError(`${at}.tenant: must match ${TENANT_RE.source}`)
    if (typeof o.role !== 'string' || !(ROLES as readonly string[]).includes(o.role)) throw new TokenConfigError(`${at}.role: must be one of ${ROLES.join(', ')}`)
    if (seen.has(o.token)) throw new TokenConfigError(`${at}.token: the same token appears twice`)
    seen.add(o.token)
    return { token: o.token, tenant: o.tenant, role: o.role as Role }
  })
}

export function readTokensFile (path: string): TokenEntry[] {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (e) {
    throw new TokenConfigError(`FAULTLINE_TOKENS_FILE: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  return parseTokensFile(text, path)
}

/** Makes a random admin token and writes it to <dataDir>/token, mode 0600 (dir made). */
export function generateAdminToken (dataDir: string): { token: string, path: string } {
  const token = randomBytes(32).toString('base64url')
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, 'token')
  writeFileSync(path, token + '\n', { mode: 0o600 })
  // writeFileSync keeps an existing file's mode; make sure it is 0600 either way.
  chmodSync(path, 0o600)
  return { token, path }
}

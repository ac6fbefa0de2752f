// Where tokens come from (docs/spec/api-v1.md "Server"): FAULTLINE_TOKEN (one admin), a tokens file
// [{"token","tenant","role"}], or neither: a random admin token made at start, printed once
// and written to <data dir>/token with mode 0600.
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
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

/** A warning when the tokens file (or what its symlink points to) is readable by group or others. */
export function tokensFileModeWarning (path: string): string | null {
  // Windows has no such mode bits.
  if (process.platform === 'win32') return null
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o044) === 0) return null
  const who = (mode & 0o040) !== 0 && (mode & 0o004) !== 0 ? 'group and others' : (mode & 0o040) !== 0 ? 'group' : 'others'
  return `tokens file ${path} is readable by ${who} (mode 0${mode.toString(8)}); it holds bearer tokens: chmod 600 it`
}

/** Makes a random admin token and writes it to <dataDir>/token, mode 0600 (dir made). */
export function generateAdminToken (dataDir: string): { token: string, path: string } {
  const token = randomBytes(32).toString('base64url')
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, 'token')
  writeTokenFile(path, token)
  return { token, path }
}

/** Writes the token into a plain file of its own at path, never through a symlink or link. */
function writeTokenFile (path: string, token: string): void {
  let fd: number
  try {
    // O_NOFOLLOW: a symlink planted at the path would send the token (and the chmod) elsewhere.
    // O_NONBLOCK: a FIFO there fails at once instead of hanging the start.
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw new TokenConfigError(`${path} is a symbolic link: refusing to write the admin token through it (remove it, or set FAULTLINE_TOKEN)`)
    throw new TokenConfigError(`cannot write the admin token to ${path} (${code ?? (e as Error).message})`)
  }
  try {
    // Checked before truncating, so a hard link to another file is refused, not emptied.
    const st = fstatSync(fd)
    if (!st.isFile() || st.nlink !== 1) throw new TokenConfigError(`${path} is not a plain file with a single link: refusing to write the admin token there`)
    // An existing file keeps its mode on open: make it 0600 either way.
    fchmodSync(fd, 0o600)
    ftruncateSync(fd, 0)
    writeSync(fd, token + '\n')
  } finally {
    closeSync(fd)
  }
}

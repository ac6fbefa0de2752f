// The tokens a server accepts, from its config; with none configured, a random admin token
// is made, printed once on stderr (stdout is the JSON log stream) and written to
// <data dir>/token (0600). A tokens file others can read is warned about on stderr.
import type { Config } from '../config.js'
import { DEFAULT_TENANT, generateAdminToken, tokensFileModeWarning } from './tokens.js'
import type { TokenEntry } from './tokens.js'

const toStderr = (line: string): void => { process.stderr.write(line + '\n') }

export function resolveTokens (config: Pick<Config, 'tokens' | 'dataDir'>, print: (line: string) => void = toStderr, warn: (line: string) => void = toStderr): TokenEntry[] {
  if (config.tokens.kind === 'file') {
    const warning = tokensFileModeWarning(config.tokens.path)
    if (warning !== null) warn(`faultline: warning: ${warning}`)
  }
  if (config.tokens.kind !== 'generate') return config.tokens.entries
  const { token, path } = generateAdminToken(config.dataDir)
  print(`faultline admin token (also in ${path}, mode 0600): ${token}`)
  return [{ token, tenant: DEFAULT_TENANT, role: 'admin' }]
}

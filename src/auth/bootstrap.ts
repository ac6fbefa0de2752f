// The tokens a server accepts, from its config; with none configured, a random admin token
// is made, printed once (stdout, never the log) and written to <data dir>/token (0600).
import type { Config } from '../config.js'
import { DEFAULT_TENANT, generateAdminToken } from './tokens.js'
import type { TokenEntry } from './tokens.js'

export function resolveTokens (config: Pick<Config, 'tokens' | 'dataDir'>, print: (line: string) => void = (l) => { process.stdout.write(l + '\n') }): TokenEntry[] {
  if (config.tokens.kind !== 'generate') return config.tokens.entries
  const { token, path } = generateAdminToken(config.dataDir)
  print(`faultline admin token (also in ${path}, mode 0600): ${token}`)
  return [{ token, tenant: DEFAULT_TENANT, role: 'admin' }]
}

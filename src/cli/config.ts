// Where the CLI connects and with which token: flags, then the environment, then the token
// the server wrote for its admin on first start (<data dir>/token, mode 0600).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_URL } from '../client/client.js'
import type { GlobalOptions } from './args.js'

export interface Connection { url: string, token?: string, tokenSource: 'flag' | 'env' | 'file' | 'none' }

export type ReadText = (path: string) => string | undefined

export const readTextFile: ReadText = (path) => {
  try { return readFileSync(path, 'utf8') } catch { return undefined }
}

/** The token file the server writes when it generates an admin token. */
export const tokenFilePath = (env: Record<string, string | undefined>): string =>
  join(env.FAULTLINE_DATA_DIR !== undefined && env.FAULTLINE_DATA_DIR !== '' ? env.FAULTLINE_DATA_DIR : './data', 'token')

export function resolveConnection (globals: GlobalOptions, env: Record<string, string | undefined>, read: ReadText = readTextFile): Connection {
  const url = globals.url ?? (env.FAULTLINE_URL !== undefined && env.FAULTLINE_URL !== '' ? env.FAULTLINE_URL : DEFAULT_URL)
  if (globals.token !== undefined) return { url, token: globals.token, tokenSource: 'flag' }
  if (env.FAULTLINE_TOKEN !== undefined && env.FAULTLINE_TOKEN !== '') return { url, token: env.FAULTLINE_TOKEN, tokenSource: 'env' }
  const fromFile = read(tokenFilePath(env))?.trim()
  if (fromFile !== undefined && fromFile !== '') return { url, token: fromFile, tokenSource: 'file' }
  return { url, tokenSource: 'none' }
}

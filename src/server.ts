// The faultline process: config from the environment, tokens, the app, listen, and a
// graceful close on SIGINT/SIGTERM. Importing it does nothing; src/main.ts calls start().
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from './app.js'
import { createAuth } from './auth/index.js'
import { resolveTokens } from './auth/bootstrap.js'
import { loadConfig } from './config.js'
import { Control } from './control/index.js'
import { loggerOptions } from './logger.js'
import { SqliteStore } from './store/sqlite.js'
import { StoreError } from './store/store.js'
import { VERSION } from './version.js'

export interface StartOptions {
  /** The environment to read the config from (default process.env). */
  env?: NodeJS.ProcessEnv
  /** Close on SIGINT/SIGTERM and uncaught errors (default true; tests in-process say false). */
  handleSignals?: boolean
  /** Where the generated token is announced (default stderr, never the JSON log). */
  announce?: (line: string) => void
}

export interface Started {
  app: FastifyInstance
  /** http://host:port the server listens on. */
  url: string
  close: () => Promise<void>
}

/** The store's file in FAULTLINE_DATA_DIR (beside the token file). */
export const STORE_FILE = 'faultline.db'

/** The exit code of a failed commit (EX_IOERR): nothing uncommitted went out. */
export const EXIT_STORE_FAILED = 74

/**
 * Starts the server. A bad configuration throws ConfigError naming every bad variable
 * before anything is opened, and a store that cannot be used StoreError naming its file;
 * main.ts turns either into exit code 78 (EX_CONFIG). Every VM of the store is recovered
 * before the server listens.
 */
export async function start (opts: StartOptions = {}): Promise<Started> {
  const config = loadConfig(opts.env ?? process.env)
  const auth = createAuth(resolveTokens(config, opts.announce))
  const logger = pino(loggerOptions(config.logLevel))
  const store = openStore(config.dataDir, config.storeMaxPages, (why) => {
    logger.warn({ why }, 'the WAL checkpoint thread stopped; SQLite checkpoints inside commits from now on')
  })
  let control: Control
  try {
    control = new Control({
      limits: config.limits,
      logger,
      store,
      onStoreFailure: (err) => {
        // Exits before any held write is released: clients heard only what was committed,
        // and the restart recovers to the last commit (docs/storage.md).
        logger.fatal({ err, file: err.file }, 'a store commit failed; exiting')
        process.stderr.write(`faultline: ${err.message}\n`)
        process.exit(EXIT_STORE_FAILED)
      }
    })
  } catch (e) {
    store.close()
    throw e
  }
  const app = await buildApp({
    control,
    auth,
    settings: { ...config, version: VERSION },
    loggerInstance: logger
  })
  let closeListeners: (() => void) | undefined
  if (opts.handleSignals !== false) {
    const handle = closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
      if (err !== undefined) app.log.error({ err }, 'closing after an error')
      else app.log.info({ signal }, 'closing')
      await app.close()
    })
    closeListeners = handle.uninstall
  }
  await app.listen({ host: config.host, port: config.port })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  return {
    app,
    url: `http://${host}:${port}`,
    close: async () => { closeListeners?.(); await app.close() }
  }
}

function openStore (dataDir: string, maxPages: number, onWalWorkerFailure: (why: string) => void): SqliteStore {
  const file = join(dataDir, STORE_FILE)
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  } catch (e) {
    throw new StoreError(file, `its folder cannot be made (${e instanceof Error ? e.message : String(e)})`)
  }
  return SqliteStore.open(file, { maxPageCount: maxPages, onWalWorkerFailure })
}

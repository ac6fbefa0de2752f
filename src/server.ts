// The faultline process: config from the environment, tokens, the app, listen, and a
// graceful close on SIGINT/SIGTERM. Importing it does nothing; src/main.ts calls start().
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from './app.js'
import { createAuth } from './auth/index.js'
import { resolveTokens } from './auth/bootstrap.js'
import { loadConfig } from './config.js'
import { Control } from './control/index.js'
import { loggerOptions } from './logger.js'
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

/**
 * Starts the server. A bad configuration throws ConfigError naming every bad variable
 * before anything is opened; main.ts turns it into exit code 78 (EX_CONFIG).
 */
export async function start (opts: StartOptions = {}): Promise<Started> {
  const config = loadConfig(opts.env ?? process.env)
  const auth = createAuth(resolveTokens(config, opts.announce))
  const logger = pino(loggerOptions(config.logLevel))
  const app = await buildApp({
    control: new Control({ limits: config.limits, logger }),
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

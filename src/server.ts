// Starts faultline: config from the environment, tokens, the app, listen, and a graceful
// close on SIGINT/SIGTERM. A bad configuration stops here with a message naming it.
import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { buildApp, loggerOptions } from './app.js'
import { createAuth } from './auth/index.js'
import { resolveTokens } from './auth/bootstrap.js'
import { ConfigError, loadConfig } from './config.js'
import type { Config } from './config.js'
import { Control } from './control/index.js'
import { VERSION } from './version.js'

export async function start (env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config
  try {
    config = loadConfig(env)
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`faultline: ${e.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw e
  }
  const auth = createAuth(resolveTokens(config))
  const logger = pino(loggerOptions(config.logLevel))
  const app = await buildApp({
    control: new Control({ limits: config.limits, logger }),
    auth,
    settings: { ...config, version: VERSION },
    loggerInstance: logger
  })
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  })
  await app.listen({ host: config.host, port: config.port })
}


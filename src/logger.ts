// pino options: request ids on every line, tokens never logged, pretty only on a terminal.
import { createRequire } from 'node:module'
import type { LoggerOptions } from 'pino'

const require = createRequire(import.meta.url)

export function loggerOptions (level: string): LoggerOptions {
  const opts: LoggerOptions = {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'headers.authorization'], censor: '[redacted]' }
  }
  if (process.stdout.isTTY) {
    // pino-pretty is optional: used when a developer has it, never required.
    try { require.resolve('pino-pretty'); opts.transport = { target: 'pino-pretty' } } catch { /* plain JSON */ }
  }
  return opts
}

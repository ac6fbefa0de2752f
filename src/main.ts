#!/usr/bin/env node
// The server process: `npm start`, the container's CMD and the `faultline-server` command.
// A token file refused at start (a symlink at <data>/token) is one line and EX_CONFIG, as a bad variable is.
import { TokenConfigError } from './auth/tokens.js'
import { start } from './server.js'

try {
  await start()
} catch (e) {
  if (!(e instanceof TokenConfigError)) throw e
  process.stderr.write(`faultline: ${e.message}\n`)
  process.exit(78) // EX_CONFIG
}

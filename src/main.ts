#!/usr/bin/env node
// The server process: `npm start`, the container's CMD and the `faultline-server` command.
// A bad configuration, or a token file refused at start (a symlink at <data>/token), is one
// line on stderr and exit code 78 (EX_CONFIG), naming what is wrong; so is a store that
// cannot be used (newer, corrupt, unwritable), which is left untouched.
import { TokenConfigError } from './auth/tokens.js'
import { ConfigError } from './config.js'
import { start } from './server.js'
import { StoreError } from './store/store.js'

try {
  await start()
} catch (e) {
  if (!(e instanceof ConfigError) && !(e instanceof TokenConfigError) && !(e instanceof StoreError)) throw e
  process.stderr.write(`faultline: ${e.message}\n`)
  process.exit(78) // EX_CONFIG
}

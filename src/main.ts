// The server's entry point (`npm start`, the container's CMD): start, or stop with exit
// code 78 (EX_CONFIG) and a message naming each bad variable.
import { ConfigError } from './config.js'
import { start } from './server.js'

try {
  await start()
} catch (e) {
  if (!(e instanceof ConfigError)) throw e
  process.stderr.write(`faultline: ${e.message}\n`)
  process.exit(78)
}

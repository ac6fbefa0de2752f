// The server `check`, `test` and `record` talk to: the one named by --url or FAULTLINE_URL, or,
// when neither is given, a server of their own in this process on 127.0.0.1 (an ephemeral
// port and a fresh admin token), so that one command is a whole CI job. The server code is
// imported only then: every other command stays free of Fastify and SQLite.
import { FaultlineClient } from '../client/client.js'
import type { GlobalOptions } from './args.js'
import { resolveConnection } from './config.js'
import type { ReadText } from './config.js'

export interface Session {
  client: FaultlineClient
  url: string
  token: string | undefined
  /** True when the server runs in this process. */
  local: boolean
  close: () => Promise<void>
}

export async function openSession (globals: GlobalOptions, env: Record<string, string | undefined>, read?: ReadText): Promise<Session> {
  if (globals.url !== undefined || (env.FAULTLINE_URL !== undefined && env.FAULTLINE_URL !== '')) {
    const c = resolveConnection(globals, env, read)
    return {
      client: new FaultlineClient({ url: c.url, ...(c.token !== undefined ? { token: c.token } : {}) }),
      url: c.url,
      token: c.token,
      local: false,
      close: async () => {}
    }
  }
  const { localServer } = await import('../local-server.js')
  // The only clients are this command and its controller: no rate limit, no shedding.
  const server = await localServer({ settings: { rateLimitPerMinute: 0, maxEventLoopDelayMs: 0 } })
  return {
    client: new FaultlineClient({ url: server.url, token: server.token }),
    url: server.url,
    token: server.token,
    local: true,
    close: server.close
  }
}

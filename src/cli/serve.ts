// `faultline serve`: the server, as `npm start` runs it, with flags over the environment.
// Imported lazily: every other command stays free of Fastify and SQLite.

export interface ServeOptions { host?: string, port?: number }

/** The environment the server should see: flags win over what is already set. */
export function serveEnv (opts: ServeOptions, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    ...(opts.host !== undefined ? { HOST: opts.host } : {}),
    ...(opts.port !== undefined ? { PORT: String(opts.port) } : {})
  }
}

/** Starts the server; a bad configuration is exit code 78 (EX_CONFIG), as with npm start. */
export async function runServe (opts: ServeOptions, err: (line: string) => void): Promise<number> {
  const [{ start }, { ConfigError }, { TokenConfigError }] = await Promise.all([import('../server.js'), import('../config.js'), import('../auth/tokens.js')])
  try {
    await start({ env: serveEnv(opts, process.env) })
    return 0
  } catch (e) {
    if (!(e instanceof ConfigError) && !(e instanceof TokenConfigError)) throw e
    err(`faultline: ${e.message}`)
    return 78
  }
}

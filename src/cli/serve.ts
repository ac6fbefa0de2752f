// `faultline serve`: the server, as `npm start` runs it, with flags turned into HOST and PORT.
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

export async function runServe (opts: ServeOptions): Promise<void> {
  const { start } = await import('../server.js')
  await start(serveEnv(opts, process.env))
}

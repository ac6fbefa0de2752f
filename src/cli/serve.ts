// `faultline serve`: the server, as `npm start` runs it. src/server.ts starts on import
// (reading HOST, PORT and the rest from the environment), so flags become variables first.
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
  Object.assign(process.env, serveEnv(opts, process.env))
  const server: Record<string, unknown> = await import('../server.js')
  // A server module that exports main() instead of starting on import is started here.
  if (typeof server.main === 'function') await (server.main as () => Promise<void>)()
}

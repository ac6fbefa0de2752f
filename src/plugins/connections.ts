// What one client's connections can cost: at most FAULTLINE_MAX_CONNECTIONS open at once
// (HTTP and stream; past it a new one is closed as soon as it is accepted, so the process
// keeps file descriptors for its own use), and running out of descriptors anyway (accept()
// failing with EMFILE) is shed and logged, never the end of the process. The idle timeouts
// are server options (buildApp).
import fp from 'fastify-plugin'
import { INTEGER_VARS } from '../config.js'

/** At most one warn line per this many ms while connections are being shed. */
const WARN_EVERY_MS = 10_000

export interface ConnectionStats {
  /** Connections closed at accept because FAULTLINE_MAX_CONNECTIONS were open. */
  dropped: number
  /** accept() failures (EMFILE, ENFILE...): the kernel closed those connections. */
  acceptErrors: number
}

export default fp(async (app) => {
  const max = app.faultline.maxConnections ?? INTEGER_VARS.FAULTLINE_MAX_CONNECTIONS.def
  const stats: ConnectionStats = { dropped: 0, acceptErrors: 0 }
  app.decorate('connections', stats)
  const server = app.server
  server.maxConnections = max

  let lastWarn = -Infinity
  let unreported = { dropped: 0, acceptErrors: 0 }
  const warn = (): void => {
    const now = Date.now()
    if (now - lastWarn < WARN_EVERY_MS) return
    lastWarn = now
    app.log.warn({ ...unreported, maxConnections: max }, 'shedding connections: the connection limit or the file-descriptor limit is reached')
    unreported = { dropped: 0, acceptErrors: 0 }
  }
  server.on('drop', () => { stats.dropped++; unreported.dropped++; warn() })
  // After listen: before it, an error (EADDRINUSE) is listen()'s to report.
  server.once('listening', () => {
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (err.syscall === 'accept') { stats.acceptErrors++; unreported.acceptErrors++; warn(); return }
      app.log.error({ err }, 'server socket error')
    })
  })
}, { name: 'faultline-connections', fastify: '5.x', dependencies: ['faultline-settings'] })

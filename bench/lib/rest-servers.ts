// The REST benchmark's two servers, each run in a process of its own (so neither shares an
// event loop with the other or with the load generator): `faultline` (the whole app, one
// VM made) or `bare` (a plain Fastify route answering the same bytes after a string compare
// of the token). Each prints {url, path} as one JSON line and serves until killed.
import Fastify from 'fastify'
import { localServer } from '../../src/local-server.js'

const TOKEN = process.env.BENCH_TOKEN ?? ''
const which = process.argv[2]
const say = (url: string, path: string): void => { process.stdout.write(JSON.stringify({ url, path }) + '\n') }
// Exit on SIGTERM through process.exit, so a server run under `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => { process.exit(0) })

if (which === 'faultline') {
  const server = await localServer({
    tokens: [{ token: TOKEN, tenant: 'bench', role: 'admin' }],
    // On, so its cost is measured, but high enough that the bench's own load is not refused.
    settings: { rateLimitPerMinute: 100_000_000, maxEventLoopDelayMs: 1000, version: 'bench' }
  })
  const principal = { tenant: 'bench', role: 'admin' as const, id: 'bench' }
  const vm = server.control.createVm(principal, { type: 'tdx', vcpus: 4, memory: { size_mib: 64 }, program: [{ op: 'hlt' }] })
  say(server.url, `/v1/vms/${vm.id}`)
} else if (which === 'bare') {
  // The same body faultline answers, handed over by the parent.
  const body = process.env.BENCH_BODY ?? '{}'
  const expected = `Bearer ${TOKEN}`
  const bare = Fastify({ logger: false })
  bare.get('/bare', async (req, reply) => {
    if (req.headers.authorization !== expected) return await reply.code(401).send('{}')
    return await reply.type('application/json; charset=utf-8').send(body)
  })
  await bare.listen({ host: '127.0.0.1', port: 0 })
  const a = bare.server.address()
  say(`http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`, '/bare')
} else {
  throw new Error('usage: rest-servers.ts faultline|bare')
}

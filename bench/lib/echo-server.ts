// The stream benchmarks' baseline: a bare `ws` echo server on 127.0.0.1 in a process of its
// own, so that it shares nothing with faultline's process or the client's. It prints its
// port as one JSON line and runs until killed.
//
// An optional argument, in microseconds, makes it busy that long (a spin on the clock)
// before it echoes each frame: the same plain server doing as much work per frame as
// faultline does per round trip, to show what that work alone costs a round trip here.
import { WebSocketServer } from 'ws'

const busyUs = Number(process.argv[2] ?? 0)
if (!Number.isFinite(busyUs) || busyUs < 0 || busyUs > 10_000) throw new Error(`echo-server: busy µs must be 0-10000, not ${process.argv[2]}`)
const busyNs = BigInt(Math.round(busyUs * 1000))

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
server.on('connection', ws => {
  ws.on('message', (d, binary) => {
    if (busyNs > 0n) {
      const until = process.hrtime.bigint() + busyNs
      while (process.hrtime.bigint() < until);
    }
    ws.send(d, { binary })
  })
})
server.once('listening', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + '\n')
})

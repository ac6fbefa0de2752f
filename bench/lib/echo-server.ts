// The stream benchmarks' baseline: a bare `ws` echo server on 127.0.0.1 in a process of its
// own, so that it shares nothing with faultline's process or the client's. It prints its
// port as one JSON line and runs until killed.
import { WebSocketServer } from 'ws'

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
server.on('connection', ws => { ws.on('message', (d, binary) => { ws.send(d, { binary }) }) })
server.once('listening', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + '\n')
})

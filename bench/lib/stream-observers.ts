// The fan-out benches' observers: `n` sockets in their own process, each subscribed as
// observer to one VM (`vm`, or the `vms` in turn) and reading (counting) every frame.
// Prints "ready" once all are subscribed, then the frame count when stdin closes or after
// the deadline.
import WebSocket from 'ws'

const { url, token, vm, vms, n } = JSON.parse(process.argv[2] ?? '{}') as { url: string, token: string, vm?: string, vms?: string[], n: number }
const targets = vms ?? [vm ?? '']
let frames = 0
const sockets: WebSocket[] = []
await Promise.all(Array.from({ length: n }, async (_, i) => {
  // Counting, not reading: skip UTF-8 checks so that the observers' own CPU (on the same
  // small machine) takes as little as possible from the server and the controller.
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false, skipUTF8Validation: true })
  sockets.push(ws)
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      frames++
      if (data.toString('latin1', 0, 20) === '{"type":"subscribed"') resolve()
    })
    ws.once('open', () => ws.send(JSON.stringify({ type: 'subscribe', vm: targets[i % targets.length], role: 'observer' })))
    ws.once('error', reject)
  })
}))
process.stdout.write('ready\n')
const done = (): void => {
  process.stdout.write(JSON.stringify({ frames, open: sockets.filter(s => s.readyState === WebSocket.OPEN).length }) + '\n')
  for (const s of sockets) s.terminate()
  process.exit(0)
}
process.stdin.on('end', done)
process.stdin.resume()
setTimeout(done, 120_000).unref()

// SIGTERM with a stream client that never answers the close frame: the server closes it
// with 1001, terminates it after 2 s, and exits 0 well within 5 s (not 10 s and exit 1).
import t from 'tap'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { CHILD_TOKEN, startChild, stopChild } from './child-server.js'

/** A WebSocket client by hand that reads frames and never answers one (no close reply). */
async function deafClient (port: number): Promise<{ socket: Socket, received: () => Buffer, closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1')
  let data = Buffer.alloc(0)
  socket.on('data', (d: Buffer) => { data = Buffer.concat([data, d]) })
  socket.on('error', () => { /* terminated by the server: 'close' follows */ })
  const closed = new Promise<void>(resolve => socket.on('close', () => { resolve() }))
  await new Promise<void>((resolve, reject) => {
    socket.on('connect', () => {
      socket.write('GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: faultline.v1\r\n' +
        `Authorization: Bearer ${CHILD_TOKEN}\r\n\r\n`)
      resolve()
    })
    socket.on('error', reject)
  })
  // Up to the hello frame, bounded.
  for (let i = 0; i < 250 && !data.includes('"hello"'); i++) await new Promise(resolve => setTimeout(resolve, 20))
  if (!data.toString().startsWith('HTTP/1.1 101')) throw new Error(`no upgrade: ${data.toString()}`)
  return { socket, received: () => data, closed }
}

void t.test('SIGTERM ends a deaf stream client and exits 0 within 5 s', async t => {
  const child = await startChild()
  t.teardown(() => { stopChild(child) })
  const client = await deafClient(child.port)
  t.match(client.received().toString(), /"hello"/)
  const at = Date.now()
  child.proc.kill('SIGTERM')
  const result = await Promise.race([
    child.exited,
    new Promise<'late'>(resolve => setTimeout(() => resolve('late'), 5000))
  ])
  t.not(result, 'late', `exited within 5 s (took ${Date.now() - at} ms)`)
  t.same(result, { code: 0, signal: null }, 'exit code 0')
  await client.closed
  // The close frame (opcode 0x88) with 1001 went out before the socket was terminated.
  const bytes = client.received()
  const close = bytes.indexOf(Buffer.from([0x88]))
  t.ok(close > 0, 'a close frame was sent')
  t.equal(bytes.readUInt16BE(close + 2), 1001, 'going away')
})

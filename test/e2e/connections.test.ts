// Connections cannot be hoarded: past FAULTLINE_MAX_CONNECTIONS new ones are closed at once,
// a connection that sends no complete request is closed after FAULTLINE_IDLE_TIMEOUT_MS (an
// upgraded stream socket is not), and a token may hold FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN
// stream sockets. Real sockets on 127.0.0.1, a few dozen at most, each wait bounded.
import t from 'tap'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import WebSocket from 'ws'
import { bearer, build, TOKENS } from '../helper.js'
import { listen, WsClient } from '../stream/ws-client.js'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

interface Idle { socket: Socket, closed: boolean, data: string }

/** Opens a TCP connection that sends nothing (or `send`) and records when it is closed. */
async function idle (port: number, send?: string): Promise<Idle> {
  return await new Promise<Idle>((resolve, reject) => {
    const c: Idle = { socket: connect(port, '127.0.0.1'), closed: false, data: '' }
    c.socket.on('connect', () => { if (send !== undefined) c.socket.write(send); resolve(c) })
    c.socket.on('data', (d) => { c.data += d.toString() })
    c.socket.on('error', () => { /* a reset: 'close' follows */ })
    c.socket.on('close', () => { c.closed = true })
    c.socket.once('error', reject)
  })
}

async function until (cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!cond() && Date.now() < deadline) await sleep(20)
  return cond()
}

function portOf (app: Awaited<ReturnType<typeof build>>): number {
  return (app.server.address() as { port: number }).port
}

void t.test('past FAULTLINE_MAX_CONNECTIONS new connections are closed; the server goes on', async t => {
  const app = await build(t, { settings: { maxConnections: 8 } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const conns: Idle[] = []
  for (let i = 0; i < 20; i++) conns.push(await idle(portOf(app)))
  t.ok(await until(() => conns.filter(c => c.closed).length >= 12, 5000), 'the 12 over the cap are closed')
  t.equal(conns.filter(c => !c.closed).length, 8, 'the first 8 stay open')
  t.ok(app.connections.dropped >= 12, 'counted')
  // While the cap is reached, a new client is shed too; once they go, it is served again.
  for (const c of conns) c.socket.destroy()
  t.ok(await until(() => app.connections.dropped >= 12 && conns.every(c => c.closed), 5000))
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = await fetch(`http://127.0.0.1:${portOf(app)}/healthz`).then(r => r.status, () => 0)
    if (status !== 200) await sleep(20)
  }
  t.equal(status, 200, '/healthz answers after the flood')
  const m = await app.inject({ url: '/metrics', headers: bearer(TOKENS.admin) })
  t.match(m.body, new RegExp(`^faultline_connections_dropped_total ${app.connections.dropped}$`, 'm'), 'in the metrics')
})

void t.test('a connection that sends no complete request is closed with 408 after the idle timeout', async t => {
  const app = await build(t, { settings: { idleTimeoutMs: 300 } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const silent = await idle(portOf(app))
  const partial = await idle(portOf(app), 'GET /healthz HTTP/1.1\r\nHost: x\r\n')
  const keptAlive = await idle(portOf(app), 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  t.ok(await until(() => silent.closed && partial.closed && keptAlive.closed, 5000), 'all three closed within the bound')
  t.match(silent.data, /^HTTP\/1\.1 408 /)
  t.match(silent.data, /"code":"FAULTLINE_REQUEST_TIMEOUT"/)
  t.match(partial.data, /"code":"FAULTLINE_REQUEST_TIMEOUT"/)
  t.match(keptAlive.data, /^HTTP\/1\.1 200 /, 'a complete request was answered before its idle keep-alive was closed')
})

void t.test('an idle stream socket is not closed by the HTTP idle timeout', async t => {
  const app = await build(t, { settings: { idleTimeoutMs: 200 } })
  const url = await listen(app)
  const ws = await WsClient.open(url, TOKENS.observerA)
  await sleep(1000)
  t.equal(ws.closeInfo, undefined, 'still open after 5 idle timeouts')
  t.equal((await ws.request({ type: 'subscribe', vm: '*', role: 'observer' })).type, 'subscribed')
  await ws.close()
})

async function upgradeStatus (url: string, token: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['faultline.v1'], { headers: bearer(token) })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); ws.terminate() })
    })
    ws.on('open', () => { ws.close(); resolve({ status: 101, body: '' }) })
    ws.on('error', reject)
  })
}

void t.test('a token may hold FAULTLINE_WS_MAX_SOCKETS_PER_TOKEN stream sockets', async t => {
  const app = await build(t, { settings: { stream: { maxSocketsPerToken: 2 } } })
  const url = await listen(app)
  const a1 = await WsClient.open(url, TOKENS.operatorA)
  const a2 = await WsClient.open(url, TOKENS.operatorA)
  const third = await upgradeStatus(url, TOKENS.operatorA)
  t.equal(third.status, 429)
  t.match(JSON.parse(third.body), { statusCode: 429, code: 'FAULTLINE_TOO_MANY_SOCKETS' })
  const b = await WsClient.open(url, TOKENS.operatorB)
  t.pass('another token is not affected')
  await a1.close()
  t.ok(await until(() => app.streamHub.stats().sockets === 2, 5000))
  const again = await WsClient.open(url, TOKENS.operatorA)
  t.pass('a closed socket frees its place')
  await Promise.all([a2.close(), b.close(), again.close()])
})

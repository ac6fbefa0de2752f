// Out of file descriptors, the server sheds connections and recovers; it never exits (it
// did: under-pressure's memory probe threw EMFILE from a timer). The
// server runs as its own process with a low open-files limit (ulimit -n), so only it runs
// out (with room to start: module loading opens files concurrently); the test opens 300
// idle connections, no more.
import t from 'tap'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { startChild, stopChild } from './child-server.js'
import type { ChildServer } from './child-server.js'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Opens n idle connections; `closed` counts those the server closed. */
async function flood (port: number, n: number): Promise<{ sockets: Socket[], closed: () => number }> {
  const sockets: Socket[] = []
  let closed = 0
  for (let i = 0; i < n; i++) {
    const s = connect(port, '127.0.0.1')
    s.on('error', () => { /* shed by the server */ })
    s.on('close', () => { closed++ })
    sockets.push(s)
  }
  await sleep(500)
  return { sockets, closed: () => closed }
}

async function healthz (port: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const status = await fetch(`http://127.0.0.1:${port}/healthz`).then(r => r.status, () => 0)
    if (status === 200) return status
    await sleep(50)
  }
  return 0
}

function shedLines (c: ChildServer): Array<Record<string, unknown>> {
  return c.lines.filter(l => l.msg?.startsWith('shedding connections') === true)
}

void t.test('accept() failing with EMFILE is shed; the server does not exit and answers afterwards', async t => {
  // A cap above the fd limit, so that accept() itself runs out.
  const child = await startChild({ FAULTLINE_MAX_CONNECTIONS: '1000' }, 256)
  t.teardown(() => { stopChild(child) })
  const { sockets, closed } = await flood(child.port, 300)
  // With no cap in the way, what was closed was closed for want of descriptors (libuv
  // accepts and closes them when accept() says EMFILE).
  t.ok(closed() > 0, 'the server ran out of descriptors and shed connections')
  // Longer than a pressure sample (1 s): a probe that opened a file would throw now.
  await sleep(1500)
  t.equal(child.proc.exitCode, null, 'still running while out of descriptors')
  for (const s of sockets) s.destroy()
  t.equal(await healthz(child.port), 200, '/healthz answers once the flood is gone')
  child.proc.kill('SIGTERM')
  t.same(await child.exited, { code: 0, signal: null })
})

void t.test('by default the connection cap sits below the fd limit: connections are shed before EMFILE', async t => {
  // A cap of 512 - 256 = 256 connections.
  const child = await startChild({}, 512)
  t.teardown(() => { stopChild(child) })
  const { sockets } = await flood(child.port, 300)
  t.equal(child.proc.exitCode, null)
  const shed = shedLines(child)
  t.ok(shed.some(l => typeof l.dropped === 'number' && l.dropped > 0), 'connections over the cap were dropped')
  t.notOk(shed.some(l => typeof l.acceptErrors === 'number' && l.acceptErrors > 0), 'accept() never ran out')
  for (const s of sockets) s.destroy()
  t.equal(await healthz(child.port), 200)
  child.proc.kill('SIGTERM')
  t.same(await child.exited, { code: 0, signal: null })
})

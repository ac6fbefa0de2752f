// The commit point: nothing leaves the process before the store holds it. Frames of the
// stream are committed right before they are released (the uncork, an observer's batch, a
// ws send); a REST response right before it is written; changes nobody watches at the end
// of their event-loop iteration. And /metrics counts the commits.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { Control } from '../../src/control/index.js'
import { localServer } from '../../src/local-server.js'
import { MemoryStore } from '../../src/store/memory.js'
import { StoreError } from '../../src/store/store.js'
import type { StoreBatch } from '../../src/store/store.js'
import { createOutbox } from '../../src/stream/outbox.js'
import type { OutboxContext, OutboxSocket } from '../../src/stream/outbox.js'
import { opA } from '../control/fixtures.js'

/** Past the end of the event-loop iteration under way: commits and releases are queued from a tick. */
const iterationEnd = (): Promise<void> => new Promise(resolve => { process.nextTick(() => { setImmediate(resolve) }) })
/** Past the group commit: busy (a commit less than 1 ms ago), it waits up to two more iterations. */
const groupCommitEnd = async (): Promise<void> => { for (let k = 0; k < 3; k++) await iterationEnd() }

/** A store that writes down when it commits, in one log with the writes it is compared to. */
class LoggedStore extends MemoryStore {
  constructor (private readonly log: string[]) { super() }
  override commit (batch: StoreBatch): void {
    super.commit(batch)
    this.log.push(`commit ${batch.checkpoints.length + batch.log.length}`)
  }
}

const event = { vm: 'vm_x', tenant: 'a', seq: 1, type: 'state' as const, frame: '{"type":"state"}' }
/** The event's whole WebSocket frame: a 2-byte header and its 16 bytes. */
const frameBytes = 18

void t.test('outboxes commit before frames leave: the end-of-turn release, an observer batch, a ws send', async t => {
  const log: string[] = []
  const socket: OutboxSocket = { readyState: 1, bufferedAmount: 0, send: () => { log.push('send') } }
  const raw = { write: (b: Buffer) => { log.push(`write ${b.length}`) } }
  const ctx = (observing: boolean): OutboxContext => ({
    maxBufferedBytes: 1 << 20,
    observerFlushMs: 5,
    observing: () => observing,
    scheduleFlush: () => {},
    onOverflow: () => {},
    beforeWrite: () => { log.push('beforeWrite') }
  })
  const controller = createOutbox(socket, ctx(false), raw)
  controller.event(event)
  controller.event(event)
  t.same(log, [], 'held until the end of the turn')
  await iterationEnd()
  t.same(log, ['beforeWrite', `write ${2 * frameBytes}`], 'held frames leave only after the commit, both in one write')

  log.length = 0
  const observer = createOutbox(socket, ctx(true), raw)
  observer.event(event)
  t.same(log, [], 'an observer batch waits')
  observer.flush()
  t.same(log, ['beforeWrite', `write ${frameBytes}`])

  // A batch still waiting when the socket must write at once goes first, held with the rest.
  log.length = 0
  let observing = true
  const turning = createOutbox(socket, { ...ctx(true), observing: () => observing }, raw)
  turning.event(event)
  observing = false
  turning.event(event)
  t.same(log, [])
  await iterationEnd()
  t.same(log, ['beforeWrite', `write ${2 * frameBytes}`])

  log.length = 0
  createOutbox(socket, ctx(false)).event(event)
  t.same(log, ['beforeWrite', 'send'])
})

void t.test('changes nobody watches are committed at the end of their event-loop iteration, one transaction for all of it', async t => {
  const log: string[] = []
  const c = new Control({ store: new LoggedStore(log) })
  t.teardown(() => { c.close() })
  const id = c.createVm(opA, { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [] }).id
  c.setMemoryAttributes(opA, id, { address: 0, size: 4096, attributes: 0, flags: 0 })
  t.same(log, [], 'nothing yet: the iteration is not over')
  await iterationEnd()
  t.same(log, ['commit 1'], 'the new VM as one checkpoint')
  c.setMemoryAttributes(opA, id, { address: 8192, size: 4096, attributes: 0, flags: 0 })
  c.poison(opA, id, 16384)
  c.commit()
  c.commit()
  t.same(log, ['commit 1', 'commit 1'], 'two changes, one log entry; a commit with nothing to do writes nothing')
  // Corked frames wait for the iteration's commit: released right after it, never before.
  c.injectInterrupt(opA, id, 0)
  c.afterCommit(() => { log.push('released') })
  t.same(log.slice(2), [])
  await groupCommitEnd()
  t.same(log.slice(2), ['commit 1', 'released'])
})

void t.test('busy, one commit holds the turns of up to three iterations; idle, each iteration commits its own', async t => {
  const log: string[] = []
  // Busy is "a commit less than storeBusyMs ago": long enough here that no slow iteration breaks it.
  const c = new Control({ store: new LoggedStore(log), storeBusyMs: 60_000 })
  t.teardown(() => { c.close() })
  const ids = [0, 1, 2, 3].map(() => c.createVm(opA, { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [] }).id)
  await groupCommitEnd()
  t.same(log, ['commit 4'], 'the new VMs, as four checkpoints in one commit')
  // Each iteration changes one VM and waits for the commit; the commits come back to back.
  const changeAndWait = (id: string, k: number): Promise<void> => new Promise(resolve => {
    c.setMemoryAttributes(opA, id, { address: k * 4096, size: 4096, attributes: 0, flags: 0 })
    c.afterCommit(() => { log.push(`released ${k}`); resolve() })
  })
  log.length = 0
  const waits: Promise<void>[] = []
  for (const [k, id] of ids.entries()) {
    waits.push(changeAndWait(id, k))
    await iterationEnd()
  }
  await Promise.all(waits)
  const commits = log.filter(l => l.startsWith('commit'))
  t.ok(commits.length < ids.length, `back to back, commits held several iterations' changes (${log.join(', ')})`)
  t.equal(commits.reduce((n, l) => n + Number(l.split(' ')[1]), 0), ids.length, 'every change committed once')
  for (const [k] of ids.entries()) {
    const released = log.indexOf(`released ${k}`)
    t.ok(released > 0 && log.slice(0, released).some(l => l.startsWith('commit')), `change ${k} released after a commit`)
  }
  // Idle (the last commit longer ago than that): a change is committed at the end of its own iteration.
  const idle = new Control({ store: new LoggedStore(log), storeBusyMs: 0 })
  t.teardown(() => { idle.close() })
  const id = idle.createVm(opA, { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [] }).id
  await iterationEnd()
  log.length = 0
  for (let k = 0; k < 3; k++) {
    idle.setMemoryAttributes(opA, id, { address: k * 4096, size: 4096, attributes: 0, flags: 0 })
    await iterationEnd()
    t.same(log, Array(k + 1).fill('commit 1'), `idle: change ${k} committed at the end of its iteration`)
  }
})

void t.test('a REST response is written after the commit of what it reports; /metrics counts commits', async t => {
  const log: string[] = []
  const server = await localServer({ store: new LoggedStore(log) })
  t.teardown(() => server.close())
  server.app.server.prependListener('request', (_req, res: ServerResponse) => {
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse
    res.end = ((...a: unknown[]) => { log.push('response'); return end(...a) }) as typeof res.end
  })
  const auth = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }
  const r = await fetch(`${server.url}/v1/vms`, { method: 'POST', headers: auth, body: JSON.stringify({ type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [] }) })
  t.equal(r.status, 201)
  t.same(log, ['commit 1', 'response'])
  const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text()
  t.match(metrics, /faultline_store_commit_duration_seconds_count 1\n/)
  t.match(metrics, /faultline_store_commit_rows_total 1\n/)
  t.match(metrics, /faultline_store_commit_bytes_total [1-9]\d*\n/)
})

void t.test('a failed commit: the failure handler hears it, and nothing waiting for the commit is released', async t => {
  const log: string[] = []
  const store = new LoggedStore(log)
  const failures: StoreError[] = []
  const c = new Control({ store, onStoreFailure: (err) => { failures.push(err) } })
  t.teardown(() => { c.close() })
  const id = c.createVm(opA, { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [] }).id
  c.commit()
  store.commit = () => { throw new Error('SQLITE_FULL: database or disk is full') }
  c.injectInterrupt(opA, id, 0)
  c.afterCommit(() => { log.push('released') })
  await groupCommitEnd()
  t.equal(failures.length, 1)
  t.type(failures[0], StoreError)
  t.match(failures[0]?.message, /SQLITE_FULL/)
  t.notOk(log.includes('released'), 'corked frames stay corked (the server exits)')
  c.injectInterrupt(opA, id, 0)
  c.commit()
  t.equal(failures.length, 1, 'nothing more is committed after a failure')
})

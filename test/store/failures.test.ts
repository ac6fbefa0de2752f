// What only a process shows of the store's failures: a file it must not touch stops the
// server at start with exit 78 and one line naming the file, which is left byte for byte
// as it was; a full disk mid-run stops it with exit 74 before anything uncommitted leaves,
// and the restart has every event a client saw.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import WebSocket from 'ws'
import { Control } from '../../src/control/index.js'
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.js'
import { admin } from '../control/fixtures.js'
import { plainEnv } from '../child-env.js'
import { CHILD_TOKEN, startChild, stopChild } from '../e2e/child-server.js'

const dataDir = (t: { teardown: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-failures-'))
  t.teardown(() => { chmodSync(dir, 0o700); rmSync(dir, { recursive: true, force: true }) })
  return dir
}
const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

/** Runs the entry point to its exit (bounded), with the store in `data`; as `uid` if given. */
async function runMain (data: string, uid?: number): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: plainEnv({ HOST: '127.0.0.1', PORT: '0', FAULTLINE_DATA_DIR: data, FAULTLINE_TOKEN: CHILD_TOKEN, LOG_LEVEL: 'silent' }),
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(uid === undefined ? {} : { uid, gid: uid })
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const guard = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  return await new Promise(resolve => child.on('exit', (code) => { clearTimeout(guard); resolve({ code, stderr }) }))
}

void t.test('a corrupt store file: exit 78 naming it, the file untouched', async t => {
  const data = dataDir(t)
  const file = join(data, 'faultline.db')
  writeFileSync(file, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(8192, 0x5a)]))
  const before = digest(file)
  const r = await runMain(data)
  t.equal(r.code, 78)
  t.match(r.stderr, `faultline: ${file}: `)
  t.notMatch(r.stderr, /\n\s+at /, 'a message, not a stack')
  t.equal(digest(file), before, 'not a byte changed')
})

void t.test('a store from a newer faultline: exit 78 naming it and its version, the file untouched', async t => {
  const data = dataDir(t)
  const file = join(data, 'faultline.db')
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE later (x)')
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  db.close()
  const before = digest(file)
  const r = await runMain(data)
  t.equal(r.code, 78)
  t.match(r.stderr, new RegExp(`${file}: was written by a newer faultline \\(schema ${SCHEMA_VERSION + 1}`))
  t.equal(digest(file), before)
})

/** Root writes read-only folders: as root, the server runs as nobody (65534) for this test. */
const NOBODY = 65534

/** Whether another user can reach and read the checkout (every folder above it searchable). */
function othersCanRead (): boolean {
  let dir = resolve('.')
  if ((statSync(join(dir, 'src', 'main.ts')).mode & 0o004) === 0) return false
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return false
    const up = dirname(dir)
    if (up === dir) return true
    dir = up
  }
}
const asRoot = process.getuid?.() === 0

void t.test('a data folder it cannot write: exit 78 naming the file', { skip: asRoot && !othersCanRead() ? 'run as root from a checkout other users cannot read' : false }, async t => {
  const data = dataDir(t)
  // Others may enter and read it (as nobody must), nobody may write it.
  chmodSync(data, asRoot ? 0o555 : 0o500)
  const r = await runMain(data, asRoot ? NOBODY : undefined)
  t.equal(r.code, 78)
  t.match(r.stderr, `${join(data, 'faultline.db')}: cannot be opened for writing`)
})

interface Frame { type: string, vm?: string, seq?: number }

/** Every event of `vm` a stream observer is sent, by seq, from `since`. */
function observe (port: number, vm: string, since: number): { frames: Map<number, string>, closed: Promise<void> } {
  const frames = new Map<number, string>()
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, ['faultline.v1'], { headers: { authorization: `Bearer ${CHILD_TOKEN}` } })
  ws.on('open', () => { ws.send(JSON.stringify({ type: 'subscribe', vm, role: 'observer', since })) })
  ws.on('message', (d: Buffer) => {
    const f = JSON.parse(d.toString()) as Frame
    if (f.vm === vm && f.seq !== undefined && f.type !== 'subscribed') frames.set(f.seq, d.toString())
  })
  const closed = new Promise<void>(resolve => { ws.on('close', () => { resolve() }); ws.on('error', () => { resolve() }) })
  return { frames, closed }
}

void t.test('a full disk mid-run: exit 74 naming the file; the restart has every event seen', async t => {
  const data = dataDir(t)
  // A few hundred KiB: the rules below decide every exit in the server, so the VM runs flat out until a commit fails.
  let child = await startChild({ FAULTLINE_DATA_DIR: data, FAULTLINE_STORE_MAX_PAGES: '64', LOG_LEVEL: 'info' })
  t.teardown(() => { stopChild(child) })
  const auth = { authorization: `Bearer ${CHILD_TOKEN}`, 'content-type': 'application/json' }
  const body = { type: 'tdx', vcpus: 1, preset: 'conversion-storm', policy: { rules: [{ reason: 'KVM_EXIT_HYPERCALL', action: 'convert' }, { reason: 'KVM_EXIT_MEMORY_FAULT', action: 'convert' }] } }
  const vm = (await (await fetch(`http://127.0.0.1:${child.port}/v1/vms`, { method: 'POST', headers: auth, body: JSON.stringify(body) })).json() as { id: string }).id
  const seen = observe(child.port, vm, 0)
  await new Promise(resolve => setTimeout(resolve, 100))
  await fetch(`http://127.0.0.1:${child.port}/v1/vms/${vm}/actions`, { method: 'POST', headers: auth, body: JSON.stringify({ action: 'start' }) })
  const exit = await Promise.race([child.exited, new Promise<'late'>(resolve => setTimeout(() => { resolve('late') }, 20_000))])
  t.same(exit, { code: 74, signal: null }, 'the server stopped itself with EX_IOERR')
  const fatal = child.lines.find(l => l.level === 60)
  t.match(fatal, { file: join(data, 'faultline.db'), msg: /commit failed/ }, 'one fatal line naming the file')
  await seen.closed
  t.ok(seen.frames.size > 10, `the observer saw ${seen.frames.size} events first`)
  // The file alone, recovered before anything runs (a VM running on would make the same events again).
  const kept = new Control({ store: SqliteStore.open(join(data, 'faultline.db')) })
  const inFile = new Map(kept.replay(admin, vm, 0).map(e => [e.seq, e.frame]))
  kept.close()
  t.same([...seen.frames].filter(([seq, f]) => inFile.get(seq) !== f).map(([seq]) => seq), [], 'the file holds every event seen, identical: nothing uncommitted went out')

  child = await startChild({ FAULTLINE_DATA_DIR: data, LOG_LEVEL: 'info' })
  const after = observe(child.port, vm, 0)
  const last = Math.max(...seen.frames.keys())
  for (let i = 0; i < 200 && !after.frames.has(last); i++) await new Promise(resolve => setTimeout(resolve, 25))
  const lost = [...seen.frames].filter(([seq, f]) => after.frames.get(seq) !== f)
  t.same(lost, [], 'every event seen before the failure is back, identical')
  child.proc.kill('SIGTERM')
  t.same(await child.exited, { code: 0, signal: null })
  await after.closed
})

// The storage contract, held by both stores (SQLite and in-memory), and what only a file can
// go through: a newer schema, a corrupt file, a read-only folder, a full disk. In every
// refusal the message names the file and the file is left exactly as it was.
import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { MemoryStore } from '../../src/store/memory.js'
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.js'
import { emptyBatch } from '../../src/store/store.js'
import type { Store, StoreBatch } from '../../src/store/store.js'

const tmp = (t: { teardown: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-store-'))
  t.teardown(() => { chmodSync(dir, 0o700); rmSync(dir, { recursive: true, force: true }) })
  return dir
}
const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

const ev = (vm: string, seq: number, exit?: number): StoreBatch['events'][number] =>
  exit === undefined
    ? { vm, seq, type: 'state', frame: `{"type":"state","vm":"${vm}","seq":${seq}}` }
    : { vm, seq, type: 'exit', exit, frame: `{"type":"exit","vm":"${vm}","exit":${exit},"seq":${seq}}` }

function contract (name: string, open: (t: { teardown: (fn: () => void) => void }) => Store): void {
  void t.test(`${name}: batches are kept, trimmed and deleted as asked, oldest VM first`, async t => {
    const s = open(t)
    s.commit({ ...emptyBatch(), vms: [{ id: 'b', tenant: 't', ord: 2, seq: 1, state: { n: 1 } }, { id: 'a', tenant: 't', ord: 1, seq: 3, state: { nested: [1, 2] } }], events: [ev('a', 1), ev('a', 2, 1), ev('a', 3, 2), ev('b', 1)] })
    s.commit({ ...emptyBatch(), vms: [{ id: 'a', tenant: 't', ord: 1, seq: 4, state: { nested: [3] } }], events: [ev('a', 4)], trims: [{ vm: 'a', belowSeq: 3 }] })
    let state = s.load()
    t.same(state.vms.map(v => [v.id, v.seq, v.state]), [['a', 4, { nested: [3] }], ['b', 1, { n: 1 }]])
    t.same(state.events.get('a'), [ev('a', 3, 2), ev('a', 4)], 'the trim kept seq 3 and on, contents exact')
    s.commit({ ...emptyBatch(), deleted: ['a'] })
    state = s.load()
    t.same(state.vms.map(v => v.id), ['b'])
    t.equal(state.events.get('a'), undefined, 'a deleted VM leaves no event')
  })

  void t.test(`${name}: a batch that reuses a seq changes nothing`, async t => {
    const s = open(t)
    s.commit({ ...emptyBatch(), vms: [{ id: 'a', tenant: 't', ord: 1, seq: 1, state: {} }], events: [ev('a', 1)] })
    t.throws(() => { s.commit({ ...emptyBatch(), vms: [{ id: 'a', tenant: 't', ord: 1, seq: 9, state: { changed: true } }], events: [ev('a', 2), ev('a', 1)] }) })
    const state = s.load()
    t.same(state.vms[0]?.state, {}, 'the VM record of the failed batch was not written')
    t.same(state.events.get('a'), [ev('a', 1)])
  })
}

contract('memory', () => new MemoryStore())
contract('sqlite', (t) => {
  const s = SqliteStore.open(join(tmp(t), 'faultline.db'))
  t.teardown(() => { s.close() })
  return s
})

void t.test('sqlite: what was committed is there after the file is opened again, in WAL mode', async t => {
  const file = join(tmp(t), 'faultline.db')
  const a = SqliteStore.open(file)
  a.commit({ ...emptyBatch(), vms: [{ id: 'a', tenant: 't', ord: 1, seq: 2, state: { x: 1 } }], events: [ev('a', 1), ev('a', 2, 1)] })
  a.close()
  const b = SqliteStore.open(file)
  t.teardown(() => { b.close() })
  t.same(b.load().events.get('a'), [ev('a', 1), ev('a', 2, 1)])
  const db = new Database(file, { readonly: true })
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  db.close()
})

void t.test('sqlite: a file from a newer faultline is refused by name and left untouched', async t => {
  const file = join(tmp(t), 'faultline.db')
  const db = new Database(file)
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  db.exec('CREATE TABLE future (x)')
  db.close()
  const before = digest(file)
  t.throws(() => SqliteStore.open(file), { name: 'StoreError', file, message: /newer faultline/ })
  t.equal(digest(file), before, 'not a byte changed')
})

void t.test('sqlite: a corrupt file is refused by name and left untouched', async t => {
  const file = join(tmp(t), 'faultline.db')
  writeFileSync(file, Buffer.concat([Buffer.from('this is not a database at all; '), Buffer.alloc(4096, 7)]))
  const before = digest(file)
  t.throws(() => SqliteStore.open(file), { name: 'StoreError', file, message: /not a usable faultline database/ })
  t.equal(digest(file), before)
})

void t.test('sqlite: a folder it cannot write is a clear error', { skip: process.getuid?.() === 0 ? 'root writes read-only folders' : false }, async t => {
  const dir = tmp(t)
  chmodSync(dir, 0o500)
  t.throws(() => SqliteStore.open(join(dir, 'faultline.db')), { name: 'StoreError', message: /cannot be opened for writing/ })
})

void t.test('sqlite: a place it cannot create the file in is a clear error', async t => {
  const notAFolder = join(tmp(t), 'plain-file')
  writeFileSync(notAFolder, 'x')
  t.throws(() => SqliteStore.open(join(notAFolder, 'faultline.db')), { name: 'StoreError', message: /cannot be opened for writing/ })
})

void t.test('sqlite: a full disk fails the commit whole; what was committed before stays', async t => {
  const file = join(tmp(t), 'faultline.db')
  const s = SqliteStore.open(file, { maxPageCount: 12 })
  t.teardown(() => { s.close() })
  s.commit({ ...emptyBatch(), vms: [{ id: 'a', tenant: 't', ord: 1, seq: 1, state: { ok: true } }], events: [ev('a', 1)] })
  const big = 'x'.repeat(4096)
  const events = Array.from({ length: 200 }, (_, i) => ({ ...ev('a', i + 2), frame: big }))
  t.throws(() => { s.commit({ ...emptyBatch(), vms: [{ id: 'a', tenant: 't', ord: 1, seq: 201, state: { ok: false } }], events }) },
    { name: 'StoreError', message: /rolled back \(SQLITE_FULL/ })
  const state = s.load()
  t.same(state.vms[0]?.state, { ok: true }, 'nothing half-written')
  t.same(state.events.get('a'), [ev('a', 1)])
})

// The storage contract, held by both stores (SQLite and in-memory), and what only a file can
// go through: a newer schema, a corrupt file, a read-only folder, a full disk. In every
// refusal the message names the file and the file is left exactly as it was.
import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { MemoryStore } from '../../src/store/memory.js'
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.js'
import { emptyBatch } from '../../src/store/store.js'
import { WalCheckpointer } from '../../src/store/wal-checkpointer.js'
import type { Store, StoreBatch } from '../../src/store/store.js'

const tmp = (t: { teardown: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-store-'))
  t.teardown(() => { chmodSync(dir, 0o700); rmSync(dir, { recursive: true, force: true }) })
  return dir
}
const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

const cp = (vm: string, pos: number, data: string, ord = 1): StoreBatch['checkpoints'][number] => ({ vm, tenant: 't', ord, pos, data })
const log = (vm: string, pos: number): StoreBatch['log'][number] => ({ vm, pos, data: `{"turn":${pos},"vm":"${vm}"}` })
const entry = (vm: string, pos: number): { pos: number, data: string } => ({ pos, data: log(vm, pos).data })

function contract (name: string, open: (t: { teardown: (fn: () => void) => void }) => Store): void {
  void t.test(`${name}: checkpoints and logs are kept, compacted and deleted as asked, oldest VM first`, async t => {
    const s = open(t)
    s.commit({ ...emptyBatch(), checkpoints: [cp('b', 0, 'B0', 2), cp('a', 0, 'A0', 1)], lastOrd: 2 })
    s.commit({ ...emptyBatch(), log: [log('a', 1), log('a', 2), log('b', 1)] })
    let state = s.load()
    t.equal(state.lastOrd, 2)
    t.same(state.vms.map(v => [v.id, v.ord, v.checkpoint, v.log]), [
      ['a', 1, { pos: 0, data: 'A0' }, [entry('a', 1), entry('a', 2)]],
      ['b', 2, { pos: 0, data: 'B0' }, [entry('b', 1)]]
    ])
    // A compaction: the new checkpoint covers positions up to 2, so those log entries go.
    s.commit({ ...emptyBatch(), checkpoints: [cp('a', 2, 'A2')], log: [log('a', 3)], lastOrd: 3 })
    state = s.load()
    t.same(state.vms[0]?.checkpoint, { pos: 2, data: 'A2' })
    t.same(state.vms[0]?.log, [entry('a', 3)], 'only what follows the checkpoint is read back')
    t.equal(state.lastOrd, 3)
    s.commit({ ...emptyBatch(), deleted: ['a'] })
    state = s.load()
    t.same(state.vms.map(v => v.id), ['b'], 'a deleted VM leaves no row')
    t.equal(state.lastOrd, 3, 'creation numbers are never given back')
  })

  void t.test(`${name}: a batch that reuses a log position changes nothing`, async t => {
    const s = open(t)
    s.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0')], log: [log('a', 1)] })
    t.throws(() => { s.commit({ ...emptyBatch(), checkpoints: [cp('b', 0, 'B0', 2)], log: [log('a', 2), log('a', 1)] }) })
    const state = s.load()
    t.same(state.vms.map(v => v.id), ['a'], 'the checkpoint of the failed batch was not written')
    t.same(state.vms[0]?.log, [entry('a', 1)])
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
  a.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0')], log: [log('a', 1), log('a', 2)] })
  a.close()
  const b = SqliteStore.open(file)
  t.teardown(() => { b.close() })
  t.same(b.load().vms[0]?.log, [entry('a', 1), entry('a', 2)])
  const db = new Database(file, { readonly: true })
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  db.close()
})

void t.test('sqlite: a version 1 file (which never held a VM) is migrated forward', async t => {
  const file = join(tmp(t), 'faultline.db')
  const db = new Database(file)
  db.exec('CREATE TABLE vms (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, ord INTEGER NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL) STRICT; CREATE TABLE events (vm TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, exit INTEGER, frame TEXT NOT NULL, PRIMARY KEY (vm, seq)) STRICT, WITHOUT ROWID;')
  db.pragma('user_version = 1')
  db.close()
  const s = SqliteStore.open(file)
  t.teardown(() => { s.close() })
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0')] })
  t.same(s.load().vms.map(v => v.id), ['a'])
})

void t.test('sqlite: a version 2 file (one log row per VM and commit) is migrated with its log', async t => {
  const file = join(tmp(t), 'faultline.db')
  const db = new Database(file)
  db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
    CREATE TABLE vms (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, ord INTEGER NOT NULL, pos INTEGER NOT NULL, checkpoint TEXT NOT NULL) STRICT;
    CREATE TABLE log (id INTEGER PRIMARY KEY, vm TEXT NOT NULL, pos INTEGER NOT NULL, data TEXT NOT NULL) STRICT;
    INSERT INTO meta VALUES ('last_ord', 2);
    INSERT INTO vms VALUES ('a', 't', 1, 0, 'A0'), ('b', 't', 2, 1, 'B1');
    INSERT INTO log (vm, pos, data) VALUES ('a', 1, '{"turn":1,"vm":"a"}'), ('b', 2, '{"turn":2,"vm":"b"}'), ('a', 2, '{"turn":2,"vm":"a"}');`)
  db.pragma('user_version = 2')
  db.close()
  const s = SqliteStore.open(file)
  t.teardown(() => { s.close() })
  const state = s.load()
  t.equal(state.lastOrd, 2)
  t.same(state.vms.map(v => [v.id, v.checkpoint, v.log]), [
    ['a', { pos: 0, data: 'A0' }, [entry('a', 1), entry('a', 2)]],
    ['b', { pos: 1, data: 'B1' }, [entry('b', 2)]]
  ])
  // The migrated rows are released like new ones: a compaction of a drops its two.
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 2, 'A2')], log: [log('b', 3)] })
  s.commit({ ...emptyBatch(), deleted: ['b'] })
  const raw = new Database(file, { readonly: true })
  t.equal(raw.prepare('SELECT count(*) FROM commits').pluck().get(), 0, 'rows no VM needs are gone')
  raw.close()
  t.same(s.load().vms.map(v => [v.id, v.checkpoint, v.log]), [['a', { pos: 2, data: 'A2' }, []]])
})

void t.test('sqlite: one row per commit, dropped once no VM needs an entry of it', async t => {
  const file = join(tmp(t), 'faultline.db')
  const s = SqliteStore.open(file)
  t.teardown(() => { s.close() })
  const rows = (): number => {
    const raw = new Database(file, { readonly: true })
    const n = raw.prepare('SELECT count(*) FROM commits').pluck().get() as number
    raw.close()
    return n
  }
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0'), cp('b', 0, 'B0', 2)] })
  s.commit({ ...emptyBatch(), log: [log('a', 1), log('b', 1)] })
  s.commit({ ...emptyBatch(), log: [log('a', 2), log('b', 2)] })
  t.equal(rows(), 2, 'one row per commit, whatever the number of VMs in it')
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 2, 'A2')] })
  t.equal(rows(), 2, 'b still needs both rows')
  s.commit({ ...emptyBatch(), checkpoints: [cp('b', 1, 'B1')] })
  t.equal(rows(), 1, 'the first row is needed by nobody now')
  t.same(s.load().vms.map(v => v.log), [[], [entry('b', 2)]])
  t.throws(() => { s.commit({ ...emptyBatch(), log: [{ vm: 'b', pos: 3, data: 'two\nlines' }] }) }, { name: 'StoreError', message: /cannot be framed/ })
  t.same(s.load().vms.map(v => v.log), [[], [entry('b', 2)]], 'a refused entry changes nothing')
})

/** Every line of the commit rows, as `<vm> <pos>`. */
function lineHeads (file: string): string[] {
  const raw = new Database(file, { readonly: true })
  const rows = raw.prepare('SELECT entries FROM commits ORDER BY id').pluck().all() as string[]
  raw.close()
  return rows.flatMap(e => e.split('\n')).map(l => l.split(' ').slice(0, 2).join(' '))
}

void t.test('sqlite: a deleted VM\'s lines leave the rows other VMs still need, a few rows each iteration, and after a restart too', async t => {
  const file = join(tmp(t), 'faultline.db')
  let s = SqliteStore.open(file)
  t.teardown(() => { s.close() })
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0'), cp('b', 0, 'B0', 2), cp('c', 0, 'C0', 3)] })
  // 100 rows, each with a line of every VM.
  for (let pos = 1; pos <= 100; pos++) s.commit({ ...emptyBatch(), log: [log('a', pos), log('b', pos), log('c', pos)] })
  const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))
  s.commit({ ...emptyBatch(), deleted: ['b'] })
  t.equal(lineHeads(file).filter(l => l.startsWith('b ')).length, 100, 'the deleting commit itself stays small')
  await turn()
  const afterOne = lineHeads(file).filter(l => l.startsWith('b ')).length
  t.ok(afterOne > 0 && afterOne < 100, `one iteration rewrote a few rows, not all (${100 - afterOne})`)
  for (let k = 0; k < 10; k++) await turn()
  t.same(lineHeads(file).filter(l => l.startsWith('b ')), [], 'then every row, in a few iterations')
  t.equal(s.scrubFailure, undefined)
  t.same(s.load().vms.map(v => [v.id, v.log.length]), [['a', 100], ['c', 100]], 'the other VMs\' lines are all there')
  // Closed before its rows were rewritten: the next start finds the lines and rewrites them.
  s.commit({ ...emptyBatch(), deleted: ['c'] })
  s.close()
  t.equal(lineHeads(file).filter(l => l.startsWith('c ')).length, 100)
  s = SqliteStore.open(file)
  t.same(s.load().vms.map(v => [v.id, v.log.length]), [['a', 100]])
  for (let k = 0; k < 10; k++) await turn()
  t.same(lineHeads(file).filter(l => !l.startsWith('a ')), [], 'only a\'s lines are left in the file')
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
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0')], log: [log('a', 1)] })
  const big = 'x'.repeat(4096)
  const entries = Array.from({ length: 200 }, (_, i) => ({ vm: 'a', pos: i + 2, data: big }))
  t.throws(() => { s.commit({ ...emptyBatch(), checkpoints: [cp('b', 0, 'B0', 2)], log: entries }) },
    { name: 'StoreError', message: /rolled back \(SQLITE_FULL/ })
  const state = s.load()
  t.same(state.vms.map(v => v.id), ['a'], 'nothing half-written')
  t.same(state.vms[0]?.log, [entry('a', 1)])
})

void t.test('sqlite: under a steady stream of commits the WAL is copied by the checkpoint thread and rewound, not grown without end', async t => {
  const file = join(tmp(t), 'faultline.db')
  const s = SqliteStore.open(file)
  t.teardown(() => { s.close() })
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0')] })
  const data = 'x'.repeat(16 * 1024)
  const walSize = (): number => { try { return statSync(file + '-wal').size } catch { return 0 } }
  let written = 0
  let largest = 0
  // 128 MiB written in all, a macrotask between commits (the worker's messages land there).
  for (let pos = 1; written < 128 * 2 ** 20; pos++) {
    s.commit({ ...emptyBatch(), checkpoints: pos % 64 === 0 ? [cp('a', pos - 1, 'A')] : [], log: [{ vm: 'a', pos, data }] })
    written += data.length
    const size = walSize()
    largest = Math.max(largest, size)
    await new Promise(resolve => setImmediate(resolve))
  }
  t.equal(s.walWorkerFailure, undefined, 'the checkpoint thread ran')
  t.ok(largest < written / 2, `the WAL was rewound: it stayed well under what was written (largest ${largest} bytes of ${written})`)
  // 8,192 commits; the last checkpoint (at the 8,192nd) covers all but the last entry.
  t.same(s.load().vms[0]?.log.map(l => l.pos), [8192], 'what was committed reads back')
})

void t.test('sqlite: without the worker (or when it fails) SQLite checkpoints in the commit, as it would alone', async t => {
  const file = join(tmp(t), 'faultline.db')
  const s = SqliteStore.open(file, { walWorker: false })
  t.teardown(() => { s.close() })
  s.commit({ ...emptyBatch(), checkpoints: [cp('a', 0, 'A0')], log: [log('a', 1)] })
  const db = new Database(file, { readonly: true })
  t.teardown(() => { db.close() })
  t.same(s.load().vms[0]?.log, [entry('a', 1)])
  const failed = new Promise<string>(resolve => { new WalCheckpointer(join(tmp(t), 'no-such.db'), () => {}, resolve) })
  t.match(await failed, /unable to open|no such|SQLITE_CANTOPEN/i, 'a worker that cannot open the file hands checkpoints back, saying why')
})

void t.test('sqlite: a writer\'s finishing checkpoint that fails hands checkpoints back; the commit before it stands', async t => {
  const file = join(tmp(t), 'w.db')
  const db = new Database(file)
  t.teardown(() => { db.close() })
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0')
  db.exec('CREATE TABLE x (v BLOB)')
  let why: string | undefined
  const w = new WalCheckpointer(file, () => { throw new Error('disk I/O error') }, (r) => { why = r })
  t.teardown(() => { w.close() })
  const row = Buffer.alloc(64 * 1024)
  const insert = db.prepare('INSERT INTO x VALUES (?)')
  let rows = 0
  let thrown: unknown
  // Until the WAL is worth rewinding (4,096 frames) and the worker, which looks every 50 ms,
  // has copied it: then the next commit asks the writer to finish, and the finish throws.
  while (why === undefined && rows < 2048) {
    insert.run(row)
    rows++
    try { w.afterCommit(row.length) } catch (e) { thrown ??= e }
    await new Promise(resolve => rows % 64 === 0 ? setTimeout(resolve, 60) : setImmediate(resolve))
  }
  t.equal(thrown, undefined, 'nothing reached the commit')
  t.match(why, /the writer's checkpoint failed \(disk I\/O error\)/)
  t.equal(db.prepare('SELECT count(*) FROM x').pluck().get(), rows, 'every commit is there')
})


// The embedded store: SQLite through better-sqlite3, in WAL mode with synchronous=NORMAL
// (a process crash loses nothing committed; a power cut may lose the last transactions).
// The schema is versioned with user_version and migrated forward at open. A file from a
// newer faultline, or one that is not a sound SQLite database, is refused before anything
// is written to it, with a message naming the file.
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import type { Store, StoreBatch, StoredState, StoredVm } from './store.js'
import { StoreError } from './store.js'

/** The schema this code writes; MIGRATIONS[n] takes a database from version n to n + 1. */
export const SCHEMA_VERSION = 2
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE vms (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     ord INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     state TEXT NOT NULL
   ) STRICT;
   CREATE TABLE events (
     vm TEXT NOT NULL,
     seq INTEGER NOT NULL,
     type TEXT NOT NULL,
     exit INTEGER,
     frame TEXT NOT NULL,
     PRIMARY KEY (vm, seq)
   ) STRICT, WITHOUT ROWID;`,
  // Version 1 never held a VM (nothing wrote it): its tables give way to checkpoints and logs.
  `DROP TABLE events;
   DROP TABLE vms;
   CREATE TABLE meta (
     key TEXT PRIMARY KEY,
     value INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE vms (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     ord INTEGER NOT NULL,
     pos INTEGER NOT NULL,
     checkpoint TEXT NOT NULL
   ) STRICT;
   -- Appended in commit order with no index: one commit writes a few contiguous pages
   -- (an index on vm would touch one page per VM). Each VM's row ids are kept in memory.
   CREATE TABLE log (
     id INTEGER PRIMARY KEY,
     vm TEXT NOT NULL,
     pos INTEGER NOT NULL,
     data TEXT NOT NULL
   ) STRICT;`
]

export interface SqliteOptions {
  /** PRAGMA max_page_count: a ceiling on the file's size in pages (tests simulate a full disk). */
  maxPageCount?: number
}

interface VmRow { id: string, tenant: string, ord: number, pos: number, checkpoint: string }
interface LogRow { id: number, vm: string, pos: number, data: string }

/** A VM's log rows in the file: their ids and positions, ascending; `last` the last position used. */
interface Rows { ids: number[], pos: number[], last: number }

export class SqliteStore implements Store {
  private readonly db: Database.Database
  private readonly apply: (batch: StoreBatch, undo: (() => void)[]) => void
  /** Every VM's log rows, so that compaction and deletion need no index. */
  private readonly rows = new Map<string, Rows>()

  private constructor (readonly file: string, opts: SqliteOptions) {
    if (existsSync(file)) inspect(file)
    try {
      this.db = new Database(file)
    } catch (e) {
      throw new StoreError(file, `cannot be opened for writing (${describe(e)})`)
    }
    try {
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = NORMAL')
      this.db.pragma('wal_autocheckpoint = 16384')
      if (opts.maxPageCount !== undefined && opts.maxPageCount > 0) this.db.pragma(`max_page_count = ${Math.floor(opts.maxPageCount)}`)
      this.migrate()
    } catch (e) {
      this.db.close()
      if (e instanceof StoreError) throw e
      throw new StoreError(file, `cannot be prepared (${describe(e)})`)
    }
    const putCheckpoint = this.db.prepare('INSERT INTO vms (id, tenant, ord, pos, checkpoint) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pos = excluded.pos, checkpoint = excluded.checkpoint')
    const dropRow = this.db.prepare('DELETE FROM log WHERE id = ?')
    const putLog = this.db.prepare('INSERT INTO log (vm, pos, data) VALUES (?, ?, ?)')
    const dropVm = this.db.prepare('DELETE FROM vms WHERE id = ?')
    const putOrd = this.db.prepare("INSERT INTO meta (key, value) VALUES ('last_ord', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)")
    this.apply = this.db.transaction((batch: StoreBatch, undo: (() => void)[]) => {
      // The in-memory rows change with the file; `undo` puts them back if the transaction
      // rolls back.
      const rowsOf = (vm: string): Rows => {
        let r = this.rows.get(vm)
        if (r === undefined) {
          const fresh: Rows = { ids: [], pos: [], last: -1 }
          this.rows.set(vm, fresh)
          undo.push(() => { this.rows.delete(vm) })
          r = fresh
        }
        return r
      }
      for (const c of batch.checkpoints) {
        putCheckpoint.run(c.vm, c.tenant, c.ord, c.pos, c.data)
        const r = rowsOf(c.vm)
        let k = 0
        while (k < r.pos.length && (r.pos[k] as number) <= c.pos) dropRow.run(r.ids[k++])
        const ids = r.ids.splice(0, k)
        const pos = r.pos.splice(0, k)
        const last = r.last
        r.last = Math.max(r.last, c.pos)
        undo.push(() => { r.ids.unshift(...ids); r.pos.unshift(...pos); r.last = last })
      }
      for (const l of batch.log) {
        const r = rowsOf(l.vm)
        if (r.last < 0) throw new Error(`log entry ${l.vm}/${l.pos} has no checkpoint`)
        if (l.pos <= r.last) throw new Error(`log entry ${l.vm}/${l.pos} reuses a position (last ${r.last})`)
        const last = r.last
        r.ids.push(Number(putLog.run(l.vm, l.pos, l.data).lastInsertRowid))
        r.pos.push(l.pos)
        r.last = l.pos
        undo.push(() => { r.ids.pop(); r.pos.pop(); r.last = last })
      }
      for (const id of batch.deleted) {
        const r = this.rows.get(id)
        for (const row of r?.ids ?? []) dropRow.run(row)
        dropVm.run(id)
        if (r !== undefined) { this.rows.delete(id); undo.push(() => { this.rows.set(id, r) }) }
      }
      if (batch.lastOrd !== undefined) putOrd.run(batch.lastOrd)
    })
  }

  /** Opens (or creates) the store in `file`; StoreError when it cannot be used. */
  static open (file: string, opts: SqliteOptions = {}): SqliteStore {
    return new SqliteStore(file, opts)
  }

  load (): StoredState {
    const ord = this.db.prepare("SELECT value FROM meta WHERE key = 'last_ord'").pluck().get() as number | undefined
    const vms = (this.db.prepare('SELECT id, tenant, ord, pos, checkpoint FROM vms ORDER BY ord').all() as VmRow[])
      .map((r): StoredVm => ({ id: r.id, tenant: r.tenant, ord: r.ord, checkpoint: { pos: r.pos, data: r.checkpoint }, log: [] }))
    const byId = new Map(vms.map(v => [v.id, v]))
    this.rows.clear()
    for (const v of vms) this.rows.set(v.id, { ids: [], pos: [], last: v.checkpoint.pos })
    // Rows were appended in commit order, so each VM's come in position order.
    for (const r of this.db.prepare('SELECT id, vm, pos, data FROM log ORDER BY id').iterate() as IterableIterator<LogRow>) {
      const v = byId.get(r.vm)
      const rows = this.rows.get(r.vm)
      // A row without its VM, or one its checkpoint covers, cannot be written (same
      // transaction); skipped if ever found.
      if (v === undefined || rows === undefined || r.pos <= v.checkpoint.pos) continue
      v.log.push({ pos: r.pos, data: r.data })
      rows.ids.push(r.id)
      rows.pos.push(r.pos)
      rows.last = r.pos
    }
    return { lastOrd: ord ?? 0, vms }
  }

  commit (batch: StoreBatch): void {
    const undo: (() => void)[] = []
    try {
      this.apply(batch, undo)
    } catch (e) {
      for (let k = undo.length - 1; k >= 0; k--) (undo[k] as () => void)()
      // The transaction rolled back: nothing of the batch is in the file.
      throw new StoreError(this.file, `a commit failed and was rolled back (${describe(e)})`)
    }
  }

  close (): void { this.db.close() }

  private migrate (): void {
    const from = this.db.pragma('user_version', { simple: true }) as number
    for (let v = from; v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v] as string
      this.db.transaction(() => {
        this.db.exec(step)
        this.db.pragma(`user_version = ${v + 1}`)
      })()
    }
  }
}

/**
 * Reads an existing file without writing to it: it must be a sound SQLite database of a
 * schema this code knows. Setting WAL or migrating would write, so this comes first.
 */
function inspect (file: string): void {
  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) {
      throw new StoreError(file, `was written by a newer faultline (schema ${version}; this one knows up to ${SCHEMA_VERSION}): upgrade faultline, or point FAULTLINE_DATA_DIR elsewhere`)
    }
    const check = db.pragma('quick_check', { simple: true })
    if (check !== 'ok') throw new StoreError(file, `is corrupt (quick_check: ${String(check)})`)
  } catch (e) {
    if (e instanceof StoreError) throw e
    throw new StoreError(file, `is not a usable faultline database (${describe(e)}); it was left as it is`)
  } finally {
    db?.close()
  }
}

function describe (e: unknown): string {
  const code = (e as { code?: unknown }).code
  return `${typeof code === 'string' ? code + ': ' : ''}${e instanceof Error ? e.message : String(e)}`
}

// The embedded store: SQLite through better-sqlite3, in WAL mode with synchronous=NORMAL
// (a process crash loses nothing committed; a power cut may lose the last transactions).
// The schema is versioned with user_version and migrated forward at open. A file from a
// newer faultline, or one that is not a sound SQLite database, is refused before anything
// is written to it, with a message naming the file.
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import type { Store, StoreBatch, StoredState, StoredVm } from './store.js'
import { StoreError, batchSize } from './store.js'
import { WalCheckpointer } from './wal-checkpointer.js'

/** The schema this code writes; MIGRATIONS[n] takes a database from version n to n + 1. */
export const SCHEMA_VERSION = 3
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
   CREATE TABLE log (
     id INTEGER PRIMARY KEY,
     vm TEXT NOT NULL,
     pos INTEGER NOT NULL,
     data TEXT NOT NULL
   ) STRICT;`,
  // Version 3: one row per commit holding every VM's log entry of it, not one row per VM:
  // a commit is then one insert (half the time of one per VM, measured at 9 VMs a commit).
  // Each line of `entries` is "<vm> <pos> <document>"; documents are single-line JSON.
  // Appended in commit order with no index; which rows each VM still needs is kept in memory.
  `CREATE TABLE commits (
     id INTEGER PRIMARY KEY,
     entries TEXT NOT NULL
   ) STRICT;
   INSERT INTO commits (id, entries) SELECT id, vm || ' ' || pos || ' ' || data FROM log ORDER BY id;
   DROP TABLE log;`
]

export interface SqliteOptions {
  /** PRAGMA max_page_count: a ceiling on the file's size in pages (tests simulate a full disk). */
  maxPageCount?: number
  /** WAL checkpoints in a worker thread (wal-checkpointer.ts); false: SQLite's automatic ones, in the commit. */
  walWorker?: boolean
  /** The checkpoint thread failed and SQLite's automatic checkpoints took over (the server logs it). */
  onWalWorkerFailure?: (why: string) => void
}

/** The WAL file is cut back to this after it is rewound (it otherwise keeps its largest size). */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024
/** Automatic checkpoints, when there is no worker: every 64 MiB of WAL. */
const AUTO_CHECKPOINT_PAGES = 16384
/** SQLite's default page size, which the store keeps (a larger one measured no faster). */
const PAGE_BYTES = 4096
/** Rows a scrub rewrites per event-loop iteration (1-2 ms with rows of 16 busy VMs). */
const SCRUB_ROWS = 16

interface VmRow { id: string, tenant: string, ord: number, pos: number, checkpoint: string }
interface CommitRow { id: number, entries: string }

/** A VM's log entries in the file: the commit rows holding them and their positions, ascending; `last` the last position used. */
interface Entries { rows: number[], pos: number[], last: number }

export class SqliteStore implements Store {
  private readonly db: Database.Database
  private readonly apply: (batch: StoreBatch, undo: (() => void)[]) => void
  /** Every VM's log entries, so that compaction and deletion need no index. */
  private readonly entries = new Map<string, Entries>()
  /** Per commit row, how many of its entries a VM still needs: at 0 the row goes. */
  private readonly live = new Map<number, number>()
  private readonly checkpointer: WalCheckpointer | undefined
  /** Why the checkpoint worker stopped, if it did (SQLite's automatic checkpoints took over). */
  walWorkerFailure: string | undefined
  /** Rows other VMs still need that hold lines of a deleted VM, and whose: see scrub. */
  private readonly scrubQueue: { row: number, vm: string }[] = []
  private scrubQueued = false
  private readonly scrubRows: (batch: { row: number, vm: string }[]) => void
  /** Why scrubbing stopped, if it did (the deleted VMs' lines stay, unread). */
  scrubFailure: string | undefined

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
      this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`)
      this.db.pragma(`wal_autocheckpoint = ${opts.walWorker === false ? AUTO_CHECKPOINT_PAGES : 0}`)
      if (opts.maxPageCount !== undefined && opts.maxPageCount > 0) this.db.pragma(`max_page_count = ${Math.floor(opts.maxPageCount)}`)
      this.migrate()
    } catch (e) {
      this.db.close()
      if (e instanceof StoreError) throw e
      throw new StoreError(file, `cannot be prepared (${describe(e)})`)
    }
    if (opts.walWorker !== false) {
      this.checkpointer = new WalCheckpointer(file, () => {
        // The few frames the worker has not copied yet; busy (the worker is at it) is fine.
        this.db.pragma('wal_checkpoint(PASSIVE)')
      }, (why) => {
        this.walWorkerFailure = why
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`)
        opts.onWalWorkerFailure?.(why)
      })
    }
    const putCheckpoint = this.db.prepare('INSERT INTO vms (id, tenant, ord, pos, checkpoint) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pos = excluded.pos, checkpoint = excluded.checkpoint')
    const dropRow = this.db.prepare('DELETE FROM commits WHERE id = ?')
    const putRow = this.db.prepare('INSERT INTO commits (entries) VALUES (?)')
    const dropVm = this.db.prepare('DELETE FROM vms WHERE id = ?')
    const getRow = this.db.prepare('SELECT entries FROM commits WHERE id = ?').pluck()
    const setRow = this.db.prepare('UPDATE commits SET entries = ? WHERE id = ?')
    const putOrd = this.db.prepare("INSERT INTO meta (key, value) VALUES ('last_ord', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)")
    // One entry of a row is no longer needed: the row goes with its last one.
    const release = (row: number, undo: (() => void)[]): void => {
      const n = (this.live.get(row) as number) - 1
      if (n > 0) { this.live.set(row, n); undo.push(() => { this.live.set(row, n + 1) }); return }
      dropRow.run(row)
      this.live.delete(row)
      undo.push(() => { this.live.set(row, 1) })
    }
    this.apply = this.db.transaction((batch: StoreBatch, undo: (() => void)[]) => {
      // The in-memory entries change with the file; `undo` puts them back if the
      // transaction rolls back.
      const entriesOf = (vm: string): Entries => {
        let r = this.entries.get(vm)
        if (r === undefined) {
          const fresh: Entries = { rows: [], pos: [], last: -1 }
          this.entries.set(vm, fresh)
          undo.push(() => { this.entries.delete(vm) })
          r = fresh
        }
        return r
      }
      for (const c of batch.checkpoints) {
        putCheckpoint.run(c.vm, c.tenant, c.ord, c.pos, c.data)
        const r = entriesOf(c.vm)
        let k = 0
        while (k < r.pos.length && (r.pos[k] as number) <= c.pos) release(r.rows[k++] as number, undo)
        const rows = r.rows.splice(0, k)
        const pos = r.pos.splice(0, k)
        const last = r.last
        r.last = Math.max(r.last, c.pos)
        undo.push(() => { r.rows.unshift(...rows); r.pos.unshift(...pos); r.last = last })
      }
      if (batch.log.length > 0) {
        const lines: string[] = []
        for (const l of batch.log) {
          const r = entriesOf(l.vm)
          if (r.last < 0) throw new Error(`log entry ${l.vm}/${l.pos} has no checkpoint`)
          if (l.pos <= r.last) throw new Error(`log entry ${l.vm}/${l.pos} reuses a position (last ${r.last})`)
          // The row's framing: a VM id is one word, a document one line.
          if (/\s/.test(l.vm) || l.data.includes('\n')) throw new Error(`log entry ${l.vm}/${l.pos} cannot be framed (a space in its VM id or a line break in its document)`)
          const last = r.last
          r.last = l.pos
          undo.push(() => { r.last = last })
          lines.push(`${l.vm} ${l.pos} ${l.data}`)
        }
        const row = Number(putRow.run(lines.join('\n')).lastInsertRowid)
        this.live.set(row, batch.log.length)
        undo.push(() => { this.live.delete(row) })
        for (const l of batch.log) {
          const r = this.entries.get(l.vm) as Entries
          r.rows.push(row)
          r.pos.push(l.pos)
          undo.push(() => { r.rows.pop(); r.pos.pop() })
        }
      }
      for (const id of batch.deleted) {
        const r = this.entries.get(id)
        for (const row of r?.rows ?? []) {
          release(row, undo)
          // A row other VMs still need: rewritten without the VM's lines soon (scrub), a
          // few rows at a time, not all in this transaction (a busy VM's lines are in
          // thousands of rows: hundreds of milliseconds of the event loop at once).
          if (this.live.has(row)) { this.scrubQueue.push({ row, vm: id }); undo.push(() => { this.scrubQueue.pop() }) }
        }
        dropVm.run(id)
        if (r !== undefined) { this.entries.delete(id); undo.push(() => { this.entries.set(id, r) }) }
      }
      if (batch.lastOrd !== undefined) putOrd.run(batch.lastOrd)
    })
    this.scrubRows = this.db.transaction((batch: { row: number, vm: string }[]) => {
      // A row dropped since (its other VMs compacted) needs nothing more.
      for (const { row, vm } of batch) if (this.live.has(row)) setRow.run(withoutVm(getRow.get(row) as string, vm), row)
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
    this.entries.clear()
    this.live.clear()
    this.scrubQueue.length = 0
    for (const v of vms) this.entries.set(v.id, { rows: [], pos: [], last: v.checkpoint.pos })
    // Rows were appended in commit order, so each VM's entries come in position order.
    for (const row of this.db.prepare('SELECT id, entries FROM commits ORDER BY id').iterate() as IterableIterator<CommitRow>) {
      let needed = 0
      const unknown: string[] = []
      for (const line of row.entries.split('\n')) {
        const a = line.indexOf(' ')
        const b = line.indexOf(' ', a + 1)
        const vm = line.slice(0, a)
        const pos = Number(line.slice(a + 1, b))
        const v = byId.get(vm)
        const e = this.entries.get(vm)
        // A line of a deleted VM in a row others need (not scrubbed yet: scrubbed now), or
        // one its VM's checkpoint covers (the row goes with the last line needed): skipped.
        if (a > 0 && v === undefined) { unknown.push(vm); continue }
        if (v === undefined || e === undefined || a < 0 || b < 0 || !(pos > v.checkpoint.pos)) continue
        v.log.push({ pos, data: line.slice(b + 1) })
        e.rows.push(row.id)
        e.pos.push(pos)
        e.last = pos
        needed++
      }
      // A row nothing needs cannot be in the file either: its last entry's release dropped it
      // in the same transaction.
      if (needed > 0) {
        this.live.set(row.id, needed)
        for (const vm of unknown) this.scrubQueue.push({ row: row.id, vm })
      }
    }
    this.queueScrub()
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
    // What the commit put in the WAL, about: its documents, and the pages it appended to.
    this.checkpointer?.afterCommit(batchSize(batch).bytes + 2 * PAGE_BYTES)
    this.queueScrub()
  }

  private queueScrub (): void {
    if (this.scrubQueued || this.scrubQueue.length === 0 || this.scrubFailure !== undefined) return
    this.scrubQueued = true
    // Unref'd: pending scrubs never keep the process alive (a restart finds the lines again).
    setImmediate(this.scrub).unref()
  }

  /**
   * Rewrites up to SCRUB_ROWS rows without a deleted VM's lines, in a transaction of its
   * own, then queues the next few for the next iteration. It changes nothing any client
   * sees (load() skips those lines), so it needs no commit point.
   */
  private readonly scrub = (): void => {
    this.scrubQueued = false
    if (!this.db.open) return
    const batch = this.scrubQueue.splice(0, SCRUB_ROWS)
    try {
      this.scrubRows(batch)
    } catch (e) {
      // Rolled back: the lines stay, unread, as they would have without scrubbing.
      this.scrubFailure = describe(e)
      this.scrubQueue.length = 0
      return
    }
    this.checkpointer?.afterCommit(batch.length * 4 * PAGE_BYTES)
    this.queueScrub()
  }

  close (): void {
    this.checkpointer?.close()
    this.db.close()
  }

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

/** A commit row's entries without those of `vm` (a line is `<vm> <pos> <document>`). */
function withoutVm (entries: string, vm: string): string {
  const prefix = `${vm} `
  return entries.split('\n').filter(line => !line.startsWith(prefix)).join('\n')
}

function describe (e: unknown): string {
  const code = (e as { code?: unknown }).code
  return `${typeof code === 'string' ? code + ': ' : ''}${e instanceof Error ? e.message : String(e)}`
}

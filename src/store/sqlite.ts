// The embedded store: SQLite through better-sqlite3, in WAL mode with synchronous=NORMAL
// (a process crash loses nothing committed; a power cut may lose the last transactions).
// The schema is versioned with user_version and migrated forward at open. A file from a
// newer faultline, or one that is not a sound SQLite database, is refused before anything
// is written to it, with a message naming the file.
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import type { Store, StoreBatch, StoredEvent, StoredState, StoredVm } from './store.js'
import { StoreError } from './store.js'

/** The schema this code writes; MIGRATIONS[n] takes a database from version n to n + 1. */
export const SCHEMA_VERSION = 1
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
   ) STRICT, WITHOUT ROWID;`
]

export interface SqliteOptions {
  /** PRAGMA max_page_count: a ceiling on the file's size in pages (tests simulate a full disk). */
  maxPageCount?: number
}

interface EventRow { vm: string, seq: number, type: StoredEvent['type'], exit: number | null, frame: string }
interface VmRow { id: string, tenant: string, ord: number, seq: number, state: string }

export class SqliteStore implements Store {
  private readonly db: Database.Database
  private readonly putVm: Database.Statement
  private readonly putEvent: Database.Statement
  private readonly trim: Database.Statement
  private readonly dropVm: Database.Statement
  private readonly dropEvents: Database.Statement
  private readonly apply: (batch: StoreBatch) => void

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
      if (opts.maxPageCount !== undefined) this.db.pragma(`max_page_count = ${Math.floor(opts.maxPageCount)}`)
      this.migrate()
    } catch (e) {
      this.db.close()
      if (e instanceof StoreError) throw e
      throw new StoreError(file, `cannot be prepared (${describe(e)})`)
    }
    this.putVm = this.db.prepare('INSERT INTO vms (id, tenant, ord, seq, state) VALUES (@id, @tenant, @ord, @seq, @state) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, state = excluded.state')
    this.putEvent = this.db.prepare('INSERT INTO events (vm, seq, type, exit, frame) VALUES (@vm, @seq, @type, @exit, @frame)')
    this.trim = this.db.prepare('DELETE FROM events WHERE vm = ? AND seq < ?')
    this.dropVm = this.db.prepare('DELETE FROM vms WHERE id = ?')
    this.dropEvents = this.db.prepare('DELETE FROM events WHERE vm = ?')
    this.apply = this.db.transaction((batch: StoreBatch) => {
      for (const v of batch.vms) this.putVm.run({ id: v.id, tenant: v.tenant, ord: v.ord, seq: v.seq, state: JSON.stringify(v.state) })
      for (const e of batch.events) this.putEvent.run({ vm: e.vm, seq: e.seq, type: e.type, exit: e.exit ?? null, frame: e.frame })
      for (const t of batch.trims) this.trim.run(t.vm, t.belowSeq)
      for (const id of batch.deleted) { this.dropEvents.run(id); this.dropVm.run(id) }
    })
  }

  /** Opens (or creates) the store in `file`; StoreError when it cannot be used. */
  static open (file: string, opts: SqliteOptions = {}): SqliteStore {
    return new SqliteStore(file, opts)
  }

  load (): StoredState {
    const vms = (this.db.prepare('SELECT id, tenant, ord, seq, state FROM vms ORDER BY ord').all() as VmRow[])
      .map((r): StoredVm => ({ id: r.id, tenant: r.tenant, ord: r.ord, seq: r.seq, state: JSON.parse(r.state) as unknown }))
    const events = new Map<string, StoredEvent[]>()
    for (const r of this.db.prepare('SELECT vm, seq, type, exit, frame FROM events ORDER BY vm, seq').iterate() as IterableIterator<EventRow>) {
      let list = events.get(r.vm)
      if (list === undefined) { list = []; events.set(r.vm, list) }
      list.push(r.exit === null ? { vm: r.vm, seq: r.seq, type: r.type, frame: r.frame } : { vm: r.vm, seq: r.seq, type: r.type, exit: r.exit, frame: r.frame })
    }
    return { vms, events }
  }

  commit (batch: StoreBatch): void {
    try {
      this.apply(batch)
    } catch (e) {
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

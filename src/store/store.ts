// What faultline keeps across a restart, behind one small interface. Per VM: a checkpoint
// (its control record, the core's snapshot, its kept journal and exit log, as one document)
// and a log of what followed it (per commit: the inputs to its core, its events,
// the decisions they carry, its small changing fields). Recovery is the checkpoint plus the
// log re-applied (docs/storage.md). The embedded default is SQLite (sqlite.ts); the
// in-memory one (memory.ts) serves unit tests; a JetStream one could keep the same shapes
// (a VM's log as a subject, its checkpoint as a KV entry).
//
// Writes come in batches: everything one event-loop iteration produced, committed as one
// transaction before any socket or response carries it (group commit). A batch is all or
// nothing. The store never interprets the documents: they are control/'s.

/** A VM's checkpoint: everything up to and including its log entry `pos`. */
export interface StoredCheckpoint {
  vm: string
  tenant: string
  /** Creation order (list cursors). */
  ord: number
  /** The last log position it covers; log entries at or below it are dropped with it. */
  pos: number
  data: string
}

/** One commit of one VM, after its checkpoint; positions only grow, never reused. */
export interface StoredLogEntry {
  vm: string
  pos: number
  data: string
}

export interface StoreBatch {
  /** New or replacing checkpoints (a VM's first, or a compaction). */
  checkpoints: StoredCheckpoint[]
  /** Log entries appended by this commit, in position order per VM. */
  log: StoredLogEntry[]
  /** VMs deleted: their checkpoint and log go. */
  deleted: string[]
  /** The registry's last creation number, when it moved (never reused after a restart). */
  lastOrd?: number | undefined
}

export interface StoredVm {
  id: string
  tenant: string
  ord: number
  /** The checkpoint and the log entries after it, in position order. */
  checkpoint: { pos: number, data: string }
  log: { pos: number, data: string }[]
}

export interface StoredState {
  lastOrd: number
  /** Oldest first (creation order). */
  vms: StoredVm[]
}

export interface Store {
  /** Everything kept, for recovery at start: called once, before any commit. */
  load (): StoredState
  /** One transaction: all of the batch, or (on an error, thrown) none of it. */
  commit (batch: StoreBatch): void
  close (): void
  /** What names the store in messages (the file, for SQLite). */
  readonly file: string
}

/** A store that cannot be used: it names the file and says why; the file is left as it was. */
export class StoreError extends Error {
  constructor (readonly file: string, message: string) {
    super(`${file}: ${message}`)
    this.name = 'StoreError'
  }
}

export function emptyBatch (): StoreBatch {
  return { checkpoints: [], log: [], deleted: [] }
}

/** Bytes and rows of a batch, for the store's metrics. */
export function batchSize (b: StoreBatch): { bytes: number, rows: number } {
  let bytes = 0
  for (const c of b.checkpoints) bytes += c.data.length
  for (const l of b.log) bytes += l.data.length
  return { bytes, rows: b.checkpoints.length + b.log.length + b.deleted.length }
}

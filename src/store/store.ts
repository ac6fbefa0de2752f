// What faultline keeps across a restart, behind one small interface: each VM's record (its
// definition, policy, counters and the core's snapshot) and its journal of events. The
// embedded default is SQLite (sqlite.ts); the in-memory one (memory.ts) serves unit tests;
// a JetStream one comes with cluster mode (a VM's events map to a subject, its record to a
// KV entry, ownership to the entry's revision).
//
// Writes come in batches: everything one event-loop turn produced, committed as one
// transaction before any socket or response carries it (group commit). A batch is all or
// nothing.

/** A VM as stored: plain JSON-able data. `state` is control/'s and the core's snapshot. */
export interface StoredVm {
  id: string
  tenant: string
  /** Creation order (list cursors). */
  ord: number
  /** The VM's latest event seq. */
  seq: number
  /** Everything else, as one JSON document (definition, policy, counters, core snapshot). */
  state: unknown
}

/** One event as the stream sent it: its seq, kind, exit id (for exits) and exact frame. */
export interface StoredEvent {
  vm: string
  seq: number
  type: 'exit' | 'decided' | 'state'
  exit?: number | undefined
  frame: string
}

export interface StoreBatch {
  /** VM records written whole (new or changed this turn). */
  vms: StoredVm[]
  /** Events appended this turn, in seq order per VM. */
  events: StoredEvent[]
  /** Per VM, events with seq below this are no longer kept (the journal's bound). */
  trims: { vm: string, belowSeq: number }[]
  /** VMs deleted: their record and every event go. */
  deleted: string[]
}

export interface StoredState {
  vms: StoredVm[]
  /** Per VM, its kept events in seq order. */
  events: Map<string, StoredEvent[]>
}

export interface Store {
  /** Everything kept, for recovery at start. */
  load (): StoredState
  /** One transaction: all of the batch, or (on an error, thrown) none of it. */
  commit (batch: StoreBatch): void
  close (): void
}

/** A store that cannot be used: it names the file and says why; the file is left as it was. */
export class StoreError extends Error {
  constructor (readonly file: string, message: string) {
    super(`${file}: ${message}`)
    this.name = 'StoreError'
  }
}

export function emptyBatch (): StoreBatch {
  return { vms: [], events: [], trims: [], deleted: [] }
}

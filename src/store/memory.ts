// The store in memory, for unit tests: the same contract as SQLite, nothing durable.
import type { Store, StoreBatch, StoredState, StoredVm } from './store.js'
import { StoreError } from './store.js'

export class MemoryStore implements Store {
  readonly file = ':memory:'
  private readonly vms = new Map<string, StoredVm>()
  private lastOrd = 0

  load (): StoredState {
    return { lastOrd: this.lastOrd, vms: [...this.vms.values()].sort((a, b) => a.ord - b.ord).map(v => structuredClone(v)) }
  }

  commit (batch: StoreBatch): void {
    // Checked whole before anything changes, as a transaction that rolls back would be: a
    // log position is never reused (SQLite's unique key refuses it there).
    const last = new Map<string, number>()
    const lastPos = (vm: string): number => last.get(vm) ?? this.vms.get(vm)?.log.at(-1)?.pos ?? this.vms.get(vm)?.checkpoint.pos ?? 0
    for (const c of batch.checkpoints) last.set(c.vm, Math.max(lastPos(c.vm), c.pos))
    for (const l of batch.log) {
      if (!this.vms.has(l.vm) && !batch.checkpoints.some(c => c.vm === l.vm)) throw new StoreError(this.file, `log entry ${l.vm}/${l.pos} has no checkpoint`)
      if (l.pos <= lastPos(l.vm)) throw new StoreError(this.file, `log entry ${l.vm}/${l.pos} reuses a position`)
      last.set(l.vm, l.pos)
    }
    // Documents are strings (immutable): nothing the caller keeps can change what is stored.
    for (const c of batch.checkpoints) {
      const v = this.vms.get(c.vm)
      this.vms.set(c.vm, { id: c.vm, tenant: c.tenant, ord: c.ord, checkpoint: { pos: c.pos, data: c.data }, log: (v?.log ?? []).filter(l => l.pos > c.pos) })
    }
    for (const l of batch.log) this.vms.get(l.vm)?.log.push({ pos: l.pos, data: l.data })
    for (const id of batch.deleted) this.vms.delete(id)
    if (batch.lastOrd !== undefined) this.lastOrd = Math.max(this.lastOrd, batch.lastOrd)
  }

  close (): void {}
}

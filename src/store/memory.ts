// The store in memory, for unit tests: the same contract as SQLite, nothing durable.
import type { Store, StoreBatch, StoredEvent, StoredState, StoredVm } from './store.js'

export class MemoryStore implements Store {
  private readonly vms = new Map<string, StoredVm>()
  private readonly events = new Map<string, StoredEvent[]>()

  load (): StoredState {
    return {
      vms: [...this.vms.values()].sort((a, b) => a.ord - b.ord).map(v => structuredClone(v)),
      events: new Map([...this.events].map(([vm, list]) => [vm, list.map(e => ({ ...e }))]))
    }
  }

  commit (batch: StoreBatch): void {
    // Checked whole before anything changes, as a transaction that rolls back would be: an
    // event's seq is never reused (SQLite's primary key refuses it there).
    const copy = structuredClone(batch)
    const last = new Map<string, number>()
    for (const e of copy.events) {
      const prev = last.get(e.vm) ?? this.events.get(e.vm)?.at(-1)?.seq ?? 0
      if (e.seq <= prev) throw new Error(`event ${e.vm}/${e.seq} reuses a seq (last ${prev})`)
      last.set(e.vm, e.seq)
    }
    for (const v of copy.vms) this.vms.set(v.id, v)
    for (const e of copy.events) {
      let list = this.events.get(e.vm)
      if (list === undefined) { list = []; this.events.set(e.vm, list) }
      list.push(e)
    }
    for (const { vm, belowSeq } of copy.trims) {
      const list = this.events.get(vm)
      if (list !== undefined) this.events.set(vm, list.filter(e => e.seq >= belowSeq))
    }
    for (const id of copy.deleted) { this.vms.delete(id); this.events.delete(id) }
  }

  close (): void {}
}

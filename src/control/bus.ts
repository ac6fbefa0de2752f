// Synchronous fan-out of ControlEvents by VM, by tenant and to everyone. The same event
// object (and so the same frame string) reaches every listener; a listener that throws is
// reported and the others still get the event.
import type { ControlEvent, ControlLogger, EventFilter, EventListener } from './types.js'

export class EventBus {
  private readonly byVm = new Map<string, Set<EventListener>>()
  private readonly byTenant = new Map<string, Set<EventListener>>()
  private readonly all = new Set<EventListener>()
  constructor (private readonly logger?: ControlLogger) {}

  subscribe (filter: EventFilter, listener: EventListener): () => void {
    let set: Set<EventListener>
    let unsub: () => void
    if ('all' in filter) {
      set = this.all
      unsub = () => { this.all.delete(listener) }
    } else {
      const [map, key] = 'vm' in filter ? [this.byVm, filter.vm] : [this.byTenant, filter.tenant]
      let s = map.get(key)
      if (s === undefined) { s = new Set(); map.set(key, s) }
      set = s
      unsub = () => {
        const cur = map.get(key)
        if (cur === undefined) return
        cur.delete(listener)
        if (cur.size === 0) map.delete(key)
      }
    }
    set.add(listener)
    return unsub
  }

  publish (e: ControlEvent): void {
    this.deliver(this.byVm.get(e.vm), e)
    this.deliver(this.byTenant.get(e.tenant), e)
    this.deliver(this.all, e)
  }

  private deliver (set: Set<EventListener> | undefined, e: ControlEvent): void {
    if (set === undefined || set.size === 0) return
    for (const l of set) {
      try {
        l(e)
      } catch (err) {
        this.logger?.error({ err, vm: e.vm, seq: e.seq }, 'event listener threw')
      }
    }
  }
}

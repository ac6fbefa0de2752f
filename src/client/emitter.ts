// A tiny typed event emitter. Not node:events: an 'error' with no listener must not throw
// inside a socket callback and take the caller's process down (stream requests already
// reject their own promises), and the client should not need Node's events in a bundle.

export type Listener<A> = (arg: A) => void

export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>()

  on<K extends keyof Events> (event: K, listener: Listener<Events[K]>): this {
    let set = this.listeners.get(event)
    if (set === undefined) { set = new Set(); this.listeners.set(event, set) }
    set.add(listener as Listener<never>)
    return this
  }

  off<K extends keyof Events> (event: K, listener: Listener<Events[K]>): this {
    this.listeners.get(event)?.delete(listener as Listener<never>)
    return this
  }

  once<K extends keyof Events> (event: K, listener: Listener<Events[K]>): this {
    const wrapper: Listener<Events[K]> = (arg) => { this.off(event, wrapper); listener(arg) }
    return this.on(event, wrapper)
  }

  listenerCount (event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0
  }

  protected emit<K extends keyof Events> (event: K, arg: Events[K]): void {
    const set = this.listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) (listener as Listener<Events[K]>)(arg)
  }
}

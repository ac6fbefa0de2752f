// Observers of one VM share one bus listener and one batch.
//
// A socket that only observes gets its events in batches (hub.ts). Delivered one by one,
// every event of a VM went through the bus, the session and the outbox of each of its
// observers before it waited for the batch: with ten observers a VM, twenty deliveries per
// exit, 17% of the server's time in the 1,000-observer run. Here a VM's observing sockets
// are members of one group: each event is appended once, and at the batch the group's
// frames are concatenated once and written to every member. Per member, the group keeps
// only where in the batch it joined.
//
// A member gets exactly what it would have got alone: only events after it joined (it
// joins when its `subscribed` frame is written, with nothing published in between), in
// order, after anything already batched for its socket (the hub writes sockets' own
// batches before the groups'). A member that leaves mid-batch (unsubscribe, a controller
// role, "*", the VM deleted, the socket ending) takes its share of the batch into its
// socket's own batch, so nothing it was due is lost and nothing comes twice.
import type { Control, ControlEvent } from '../control/index.js'
import { eventFrame } from './frames.js'

export interface GroupMember {
  /** The group's frames this member is due, handed over as it leaves; `lastSeq` is the last one's. */
  takeShare: (vm: string, frames: Buffer[], lastSeq: number) => void
  /** The member's part of the batch, written; `lastSeq` is the last event in it. */
  writeGroupBatch: (vm: string, batch: Buffer, lastSeq: number) => void
  /** The VM was deleted: its deletion is in the group's frames; the member leaves. */
  groupVmDeleted: (vm: string) => void
}

interface Group {
  vm: string
  frames: Buffer[]
  bytes: number
  lastSeq: number
  /** Each member and the index in `frames` from which it is due. */
  members: Map<GroupMember, number>
  unsubscribe: () => void
}

export class ObserverGroups {
  private readonly groups = new Map<string, Group>()
  /** Groups with frames waiting for the next batch. */
  private readonly due = new Set<Group>()

  constructor (
    private readonly control: Control,
    /** Asks for flush() at the next batch (the hub's timer). */
    private readonly schedule: () => void,
    /** A group holding more than this writes its batch at once (a socket's own limit, for its batch). */
    private readonly maxBytes: number
  ) {}

  /** Sockets waiting in due groups: what the next batch will write to. */
  get waiting (): number {
    let n = 0
    for (const g of this.due) n += g.members.size
    return n
  }

  /** `member` observes `vm` from now on; returns how it leaves (at most once). */
  join (vm: string, member: GroupMember): () => void {
    let g = this.groups.get(vm)
    if (g === undefined) {
      const group: Group = { vm, frames: [], bytes: 0, lastSeq: 0, members: new Map(), unsubscribe: () => {} }
      group.unsubscribe = this.control.subscribe({ vm }, (e) => { this.onEvent(group, e) })
      this.groups.set(vm, group)
      g = group
    }
    g.members.set(member, g.frames.length)
    const group = g
    return () => { this.leave(group, member) }
  }

  /** Writes every due group's batch. */
  flush (): void {
    const due = [...this.due]
    this.due.clear()
    for (const g of due) this.write(g)
  }

  private onEvent (g: Group, e: ControlEvent): void {
    const frame = eventFrame(e)
    g.frames.push(frame)
    g.bytes += frame.length
    g.lastSeq = e.seq
    if (!this.due.has(g)) { this.due.add(g); this.schedule() }
    if (e.deleted === true) {
      // Each member takes its share, the deletion last, as it leaves.
      for (const m of [...g.members.keys()]) m.groupVmDeleted(g.vm)
      return
    }
    if (g.bytes > this.maxBytes) { this.due.delete(g); this.write(g) }
  }

  private leave (g: Group, member: GroupMember): void {
    const from = g.members.get(member)
    if (from === undefined) return
    g.members.delete(member)
    if (from < g.frames.length) member.takeShare(g.vm, g.frames.slice(from), g.lastSeq)
    if (g.members.size === 0 && this.groups.get(g.vm) === g) {
      g.unsubscribe()
      this.groups.delete(g.vm)
      this.due.delete(g)
    }
  }

  private write (g: Group): void {
    const frames = g.frames
    const lastSeq = g.lastSeq
    g.frames = []
    g.bytes = 0
    if (frames.length === 0) return
    let whole: Buffer | undefined
    // A member's write may close its socket, which leaves the group: iterate a copy.
    for (const [m, from] of [...g.members]) {
      if (!g.members.has(m)) continue
      g.members.set(m, 0)
      if (from >= frames.length) continue
      const batch = from === 0
        ? (whole ??= frames.length === 1 ? frames[0] as Buffer : Buffer.concat(frames))
        : Buffer.concat(frames.slice(from))
      m.writeGroupBatch(g.vm, batch, lastSeq)
    }
  }
}

// Observer groups alone (src/stream/observer-groups.ts), with a fake bus: what each member
// is handed, when, and that a member leaving mid-batch takes exactly its share.
import t from 'tap'
import { ObserverGroups } from '../../src/stream/observer-groups.js'
import type { GroupMember } from '../../src/stream/observer-groups.js'
import type { Control, ControlEvent } from '../../src/control/index.js'
import { framePayload } from '../../src/stream/wire.js'

function rig (maxBytes = 1 << 20): { groups: ObserverGroups, publish: (vm: string, seq: number, deleted?: boolean) => void, listeners: Map<string, (e: ControlEvent) => void>, scheduled: { n: number } } {
  const listeners = new Map<string, (e: ControlEvent) => void>()
  const control = {
    subscribe: (f: { vm: string }, l: (e: ControlEvent) => void) => { listeners.set(f.vm, l); return () => { listeners.delete(f.vm) } }
  } as unknown as Control
  const scheduled = { n: 0 }
  const groups = new ObserverGroups(control, () => { scheduled.n++ }, maxBytes)
  const publish = (vm: string, seq: number, deleted = false): void => {
    const e: ControlEvent = { vm, tenant: 'a', seq, type: 'state', frame: `{"seq":${seq}}`, ...(deleted ? { deleted: true } : {}) }
    listeners.get(vm)?.(e)
  }
  return { groups, publish, listeners, scheduled }
}

/** A member that records what it is handed, as seqs. */
function member (onDeleted?: (vm: string) => void): GroupMember & { got: Array<{ how: string, seqs: number[], lastSeq: number }> } {
  const got: Array<{ how: string, seqs: number[], lastSeq: number }> = []
  const seqs = (frames: Buffer[]): number[] => frames.flatMap(f => [...framePayload(f).toString().matchAll(/"seq":(\d+)/g)].map(m => Number(m[1])))
  const all = (b: Buffer): number[] => [...b.toString('latin1').matchAll(/"seq":(\d+)/g)].map(m => Number(m[1]))
  return {
    got,
    takeShare: (_vm, frames, lastSeq) => { got.push({ how: 'share', seqs: seqs(frames), lastSeq }) },
    writeGroupBatch: (_vm, batch, lastSeq) => { got.push({ how: 'batch', seqs: all(batch), lastSeq }) },
    groupVmDeleted: (vm) => { onDeleted?.(vm) }
  }
}

void t.test('one bus listener per VM; each event once into the batch; every member gets the batch from where it joined', async t => {
  const { groups, publish, listeners, scheduled } = rig()
  const a = member()
  const b = member()
  groups.join('vm_1', a)
  t.equal(listeners.size, 1)
  publish('vm_1', 1)
  publish('vm_1', 2)
  t.equal(scheduled.n, 1, 'one flush asked for the batch')
  groups.join('vm_1', b)
  t.equal(listeners.size, 1, 'the second member shares the listener')
  publish('vm_1', 3)
  t.equal(groups.waiting, 2)
  groups.flush()
  t.same(a.got, [{ how: 'batch', seqs: [1, 2, 3], lastSeq: 3 }])
  t.same(b.got, [{ how: 'batch', seqs: [3], lastSeq: 3 }], 'only what came after it joined')
  publish('vm_1', 4)
  groups.flush()
  t.same(a.got.at(-1), { how: 'batch', seqs: [4], lastSeq: 4 })
  t.same(b.got.at(-1), { how: 'batch', seqs: [4], lastSeq: 4 }, 'from the next batch on, the same batch')
  groups.flush()
  t.equal(a.got.length, 2, 'nothing new, nothing written')
})

void t.test('a member leaving mid-batch takes exactly its share; the last one out unsubscribes', async t => {
  const { groups, publish, listeners } = rig()
  const a = member()
  const b = member()
  const leaveA = groups.join('vm_1', a)
  publish('vm_1', 1)
  const leaveB = groups.join('vm_1', b)
  publish('vm_1', 2)
  publish('vm_1', 3)
  leaveA()
  t.same(a.got, [{ how: 'share', seqs: [1, 2, 3], lastSeq: 3 }])
  leaveA()
  t.equal(a.got.length, 1, 'leaving twice hands nothing more')
  groups.flush()
  t.same(b.got, [{ how: 'batch', seqs: [2, 3], lastSeq: 3 }])
  t.equal(a.got.length, 1, 'the leaver is not written to')
  publish('vm_1', 4)
  leaveB()
  t.same(b.got.at(-1), { how: 'share', seqs: [4], lastSeq: 4 })
  t.equal(listeners.size, 0, 'no member left: off the bus')
  t.equal(groups.waiting, 0)
  groups.flush()
  t.equal(b.got.length, 2)
})

void t.test('the VM deleted: every member is told after the deletion joined the batch; a group past the byte limit writes at once', async t => {
  const { groups, publish } = rig(40)
  const leaves = new Map<GroupMember, () => void>()
  const deleted: string[] = []
  const mk = (): ReturnType<typeof member> => { const m = member((vm) => { deleted.push(vm); leaves.get(m)?.() }); return m }
  const a = mk()
  const b = mk()
  leaves.set(a, groups.join('vm_1', a))
  leaves.set(b, groups.join('vm_1', b))
  publish('vm_1', 1)
  publish('vm_1', 2, true)
  t.same(deleted, ['vm_1', 'vm_1'])
  t.same(a.got, [{ how: 'share', seqs: [1, 2], lastSeq: 2 }], 'the deletion last')
  t.same(b.got, [{ how: 'share', seqs: [1, 2], lastSeq: 2 }])

  const c = member()
  groups.join('vm_2', c)
  for (let s = 1; s <= 4; s++) publish('vm_2', s)
  t.ok(c.got.length >= 1, 'written before the batch was due')
  t.same(c.got.flatMap(g => g.seqs), [1, 2, 3, 4].slice(0, c.got.flatMap(g => g.seqs).length))
  groups.flush()
  t.same(c.got.flatMap(g => g.seqs), [1, 2, 3, 4], 'in order, each once')
})

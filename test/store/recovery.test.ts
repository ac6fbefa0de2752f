// Recovery from the store, in process: a Control rebuilt from what an earlier one committed
// holds every VM as it was (views, exits with their decisions, the kept journal, memory,
// vCPUs, pending exits), and a VM that runs on after the restart makes exactly the exits an
// uninterrupted run makes with the same decisions. The crash itself is test/store/crash.test.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Control } from '../../src/control/index.js'
import type { ControlEvent } from '../../src/control/index.js'
import { decidedFrame } from '../../src/control/frames.js'
import { applyFields } from '../../src/control/persisted.js'
import type { CheckpointDoc, LogDoc, LoggedEvent } from '../../src/control/persisted.js'
import { FaultlineError } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { Store, StoredState, StoredVm } from '../../src/store/store.js'
import { settle } from '../helper.js'
import { admin, opA, opB } from '../control/fixtures.js'

const LIMITS = { journalEvents: 40, journalBytes: 1 << 20 }
/** Small, so that VMs are compacted within the test. */
const COMPACT = 4096

/** Everything a client can ask about every VM, in one comparable value. */
function observe (c: Control): unknown[] {
  return c.listVms(admin, { limit: 1000 }).items.map(v => ({
    view: v,
    exits: c.exits(admin, v.id, { limit: 100_000 }),
    journal: journal(c, v.id, v.seq),
    pending: c.pendingExitEvents(admin, v.id).map(e => e.frame),
    vcpus: c.vcpus(admin, v.id),
    attributes: c.memoryAttributes(admin, v.id, { limit: 1_000_000 }),
    backing: c.backing(admin, v.id, { limit: 1_000_000 })
  }))
}

/** The kept journal and where it starts: the least `since` that is not SEQ_EXPIRED. */
function journal (c: Control, vm: string, seq: number): { since: number, frames: string[] } {
  let lo = 0
  let hi = seq
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    try { c.replay(admin, vm, mid); hi = mid } catch (e) { if (!(e instanceof FaultlineError)) throw e; lo = mid + 1 }
  }
  return { since: lo, frames: c.replay(admin, vm, lo).map(e => e.frame) }
}

/** Decides the oldest pending exit of each VM the same way every time (convert, else resume). */
function decideSome (c: Control, vms: string[], n: number): void {
  for (const id of vms) {
    for (const e of c.pendingExitEvents(admin, id).slice(0, n)) {
      const x = e.exit as number
      const tries = [{ action: 'convert' as const, reason: `r${x}` }, { action: 'resume' as const, ret: 0, reason: `r${x}` }, { action: 'resume' as const, data: [x] }, { action: 'resume' as const }]
      for (const d of tries) {
        try { c.decide(admin, id, x, d, 'rest'); break } catch { /* refused for this exit: the next */ }
      }
    }
  }
}

/**
 * A VM's documents as stores written before checkpoints kept journal events by reference
 * and log entries only the fields that changed: whole fields, every journal frame, decision
 * records with their seq.
 */
function earlierDocuments (v: StoredVm): StoredVm {
  const cp = JSON.parse(v.checkpoint.data) as CheckpointDoc
  const exits = new Map(cp.exits.map(x => [x.x, x]))
  cp.journal = cp.journal.map((l): LoggedEvent => {
    if (l.f !== undefined) return l
    const x = exits.get(l.x as number)
    if (l.t === 'exit') return { ...l, f: x?.f as string }
    const d = x?.d
    if (d === null || d === undefined) throw new Error(`decided ${l.s} refers to exit ${String(l.x)}, which has no decision`)
    return { ...l, f: decidedFrame(JSON.stringify(v.id), l.x as number, l.s, d.action, d.by) }
  })
  const inJournal = new Set(cp.journal.map(l => l.s))
  cp.exits = cp.exits.map(x => inJournal.has(x.s) ? { x: x.x, s: x.s, d: x.d } : x)
  let fields = { ...cp.r, counters: { ...cp.r.counters } }
  const log = v.log.map(entry => {
    const doc = JSON.parse(entry.data) as LogDoc
    fields = applyFields(fields, doc)
    const e = doc.e.map(l => l.d === undefined ? l : { ...l, d: { ...l.d, seq: l.s } })
    return { pos: entry.pos, data: JSON.stringify({ r: { ...fields, counters: { ...fields.counters } }, i: doc.i, e }) }
  })
  return { ...v, checkpoint: { pos: v.checkpoint.pos, data: JSON.stringify(cp) }, log }
}

/** A store that gives back `state` once, and keeps nothing. */
class FixedStore extends MemoryStore {
  constructor (private readonly state: StoredState) { super() }
  override load (): StoredState { return this.state }
  override commit (): void {}
}

/** The store to restart from: the same memory, or the same file opened again. */
const STORES: Array<[string, (t: Teardown) => () => Store]> = [
  ['memory', () => { const m = new MemoryStore(); return () => m }],
  ['sqlite', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-recovery-'))
    t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    return () => SqliteStore.open(join(dir, 'faultline.db'))
  }]
]
interface Teardown { teardown: (fn: () => void) => void }

for (const [kind, storeFor] of STORES) {
  void t.test(`${kind}: a restarted control holds every VM exactly as the last commit left it`, async t => {
    const open = storeFor(t)
    const a = new Control({ limits: LIMITS, store: open(), storeCompactBytes: COMPACT })
    t.teardown(() => { a.close() })
    const ids: string[] = []
    ids.push(a.createVm(opA, { type: 'tdx', vcpus: 2, preset: 'conversion-storm', seed: 3, name: 'storm', autostart: true, policy: { decision_timeout_ms: 600_000, on_timeout: 'resume', rules: [{ reason: 'KVM_EXIT_HYPERCALL', action: 'convert' }] } }).id)
    ids.push(a.createVm(opA, { type: 'snp', vcpus: 1, preset: 'snp-boot', autostart: true }).id)
    ids.push(a.createVm(opB, { type: 'sw_protected', vcpus: 1, preset: 'hwpoison', autostart: true }).id)
    ids.push(a.createVm(opB, { type: 'default', vcpus: 3, preset: 'io-heavy', autostart: true }).id)
    // Never decided: its one exit is pending at the restart whatever the timing.
    const waiting = a.createVm(opA, { type: 'snp', vcpus: 2, memory: { size_mib: 16 }, program: [{ op: 'out', port: 0x80, size: 1, value: 7 }], autostart: true, policy: { decision_timeout_ms: 600_000, on_timeout: 'kill' } }).id
    const frag = a.createVm(opA, { type: 'tdx', vcpus: 1, memory: { size_mib: 64 }, program: [] }).id
    const gone = a.createVm(opA, { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [] }).id
    // A fragmented attribute map: every other page shared, thousands of extents.
    for (let p = 0; p < 6000; p += 2) a.setMemoryAttributes(opA, frag, { address: p * 4096, size: 4096, attributes: 0, flags: 0 })
    a.poison(opA, frag, 4096)
    a.injectInterrupt(opA, frag, 0)
    for (let round = 0; round < 30; round++) {
      await settle(3)
      decideSome(a, ids, round % 3)
    }
    a.act(opB, ids[3] as string, 'pause')
    a.deleteVm(opA, gone)
    await settle(3)
    a.commit()
    const before = observe(a)
    a.close()
    const look = open()
    const state = look.load()
    const kept = state.vms
    look.close()
    t.ok(kept.some(v => v.log.length > 0), 'some VMs come back through their log')
    t.ok(kept.some(v => v.checkpoint.pos > 0), 'some VMs were compacted into a later checkpoint')

    const b = new Control({ limits: LIMITS, store: open(), storeCompactBytes: COMPACT })
    t.teardown(() => { b.close() })
    const after = observe(b)
    t.same(after, before, 'views, exits and decisions, journals, pending exits, vCPUs, memory')
    // The documents are the compact ones, and the earlier ones still recover the same.
    t.ok(kept.some(v => v.log.some(l => (JSON.parse(l.data) as LogDoc).u !== undefined)), 'log entries hold the changed fields')
    t.ok(kept.some(v => (JSON.parse(v.checkpoint.data) as CheckpointDoc).journal.some(l => l.f === undefined)), 'checkpoints keep journal events by reference')
    const earlier = new Control({ limits: LIMITS, store: new FixedStore({ lastOrd: state.lastOrd, vms: kept.map(earlierDocuments) }), storeCompactBytes: COMPACT })
    t.same(observe(earlier), before, 'documents in the earlier form recover the same')
    earlier.close()
    t.ok((before[5] as { attributes: { extents: unknown[] } }).attributes.extents.length >= 3000, 'thousands of extents came back')
    t.notOk(b.vmExists(admin, gone), 'a deleted VM stays deleted')
    // The journal stays bounded across the restart: what it dropped is still gone.
    t.throws(() => b.replay(admin, ids[0] as string, 0), { code: 'SEQ_EXPIRED' })
    t.equal(b.pendingExitEvents(admin, waiting).length, 2, 'pending exits came back pending')
    t.equal(b.getVm(admin, waiting).policy.decision_timeout_ms, 600_000)
    // Creation numbers go on from where they were: a new VM lists last.
    const fresh = b.createVm(opA, { type: 'tdx', vcpus: 1, memory: { size_mib: 16 }, program: [] }).id
    t.equal(b.listVms(admin, { limit: 1000 }).items.at(-1)?.id, fresh)
    // A restart adds no event: the next seq follows the last one a client saw.
    const v = b.getVm(admin, ids[1] as string)
    t.equal(v.seq, (before[1] as { view: { seq: number } }).view.seq)
  })
}

/** Exits of a 1-vCPU VM, decided as they come by a fixed rule, until `count`; `restartAt` restarts control/ then. */
async function run (count: number, restartAt: number | null): Promise<string[]> {
  const store = new MemoryStore()
  let c = new Control({ limits: LIMITS, store, storeCompactBytes: COMPACT })
  const id = c.createVm(opA, { type: 'tdx', vcpus: 1, preset: 'conversion-storm', seed: 11, autostart: true }).id
  const frames: string[] = []
  let unsub = c.subscribe({ vm: id }, (e: ControlEvent) => { if (e.type === 'exit') frames.push(e.frame.replaceAll(id, 'VM')) })
  while (frames.length < count) {
    await settle(1)
    if (restartAt !== null && frames.length >= restartAt) {
      restartAt = null
      c.commit()
      unsub()
      c.close()
      c = new Control({ limits: LIMITS, store, storeCompactBytes: COMPACT })
      unsub = c.subscribe({ vm: id }, (e: ControlEvent) => { if (e.type === 'exit') frames.push(e.frame.replaceAll(id, 'VM')) })
    }
    for (const e of c.pendingExitEvents(opA, id)) {
      const x = e.exit as number
      try { c.decide(opA, id, x, { action: x % 3 === 0 ? 'resume' : 'convert' }, 'controller') } catch {
        c.decide(opA, id, x, { action: 'resume' }, 'controller')
      }
    }
  }
  unsub()
  c.close()
  return frames.slice(0, count)
}

void t.test('a VM restarted mid-run goes on with exactly the exits an uninterrupted run makes', async t => {
  const straight = await run(300, null)
  const restarted = await run(300, 120)
  t.equal(straight.length, 300)
  t.same(restarted, straight, 'same exits, ids, seqs and payloads (the seeded random steps included)')
})

void t.test('a replay\'s VM comes back paused (replay-interrupted), not run by the scheduler', async t => {
  const m = new MemoryStore()
  const a = new Control({ store: m })
  const rec = a.createDrivenVm(opA, { type: 'snp', vcpus: 1, memory: { size_mib: 16 }, preset: 'conversion-storm' })
  a.act(opA, rec.id, 'start')
  await settle(4)
  t.equal(a.getVm(opA, rec.id).state, 'running')
  t.equal(a.exits(opA, rec.id).items.length, 0, 'nothing drives it but its replay')
  a.commit()
  a.close()
  const b = new Control({ store: m })
  t.teardown(() => { b.close() })
  await settle(4)
  t.match(b.getVm(opA, rec.id), { state: 'paused', state_reason: 'replay-interrupted' })
  b.act(opA, rec.id, 'resume')
  await settle(8)
  t.ok(b.exits(opA, rec.id).items.length > 0, 'resumed, it runs as an ordinary VM')
  b.commit()
  b.close()
  const c = new Control({ store: m })
  t.teardown(() => { c.close() })
  t.equal(c.getVm(opA, rec.id).state, 'running', 'and stays ordinary across the next restart')
})

import t from 'tap'
import { ExitLog } from '../../src/control/exit-log.js'
import type { ExitEntry } from '../../src/control/record.js'
import type { DecisionRecord } from '../../schemas/exit.js'

const DECIDED: DecisionRecord = { action: 'resume', by: 'rule', seq: 0 }
const entry = (id: number): ExitEntry => ({ event: { vm: 'v', tenant: 't', seq: id, type: 'exit', exit: id, frame: '{}' }, decision: null })
const ids = (log: ExitLog): number[] => [...log.values()].map(e => e.event.exit as number)

/** What the log must do, the obvious way: walk oldest first, drop decided ones past the limit. */
function referenceTrim (m: Map<number, ExitEntry>, limit: number): void {
  for (const [id, e] of m) {
    if (m.size <= limit) break
    if (e.decision !== null) m.delete(id)
  }
}

void t.test('the exit log drops the oldest decided exits past its limit and never a pending one', async t => {
  const log = new ExitLog()
  const es = Array.from({ length: 9 }, (_, i) => entry(i + 1))
  for (const e of es.slice(0, 6)) log.set(e.event.exit as number, e)
  for (const i of [0, 2, 3, 4, 5]) (es[i] as ExitEntry).decision = DECIDED
  // Exit 2 is still pending: 1, 3 and 4 go; 2 stays.
  log.trim(3)
  t.same(ids(log), [2, 5, 6])
  for (const e of es.slice(6)) { e.decision = DECIDED; log.set(e.event.exit as number, e); log.trim(3) }
  t.same(ids(log), [2, 8, 9], 'newer decided ones go while the old one waits')
  ;(es[1] as ExitEntry).decision = DECIDED
  log.set(10, entry(10))
  log.trim(3)
  t.same(ids(log), [8, 9, 10], 'once decided, the oldest goes first')
  t.equal(log.get(2), undefined)
  t.equal(log.size, 3)
})

void t.test('the exit log matches a walk from the oldest exit on a long random run', async t => {
  // mulberry32: a small seeded generator, so a failure replays.
  let seed = 7
  const rand = (n: number): number => {
    seed = (seed + 0x6D2B79F5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return (((x ^ (x >>> 14)) >>> 0) % n)
  }
  const log = new ExitLog()
  const ref = new Map<number, ExitEntry>()
  const pending: ExitEntry[] = []
  const limit = 16
  for (let id = 1; id <= 5000; id++) {
    const e = entry(id)
    log.set(id, e)
    ref.set(id, e)
    pending.push(e)
    // Up to 4 exits wait at once (one per vCPU); each is decided now with odds 1 in 8, so
    // some wait while many newer ones come and go.
    for (let i = pending.length - 1; i >= 0; i--) {
      if (pending.length > 4 || rand(8) === 0) (pending.splice(i, 1)[0] as ExitEntry).decision = DECIDED
    }
    log.trim(limit)
    referenceTrim(ref, limit)
    if (ids(log).join() !== [...ref.keys()].join()) { t.fail(`differs after exit ${id}`); return }
  }
  t.equal(log.size, ref.size)
  t.pass('the same exits kept, in the same order, after every exit')
})

void t.test('the exit log is bounded in frame bytes as well as exits, pending ones kept', async t => {
  const log = new ExitLog()
  const big = (id: number): ExitEntry => ({ event: { vm: 'v', tenant: 't', seq: id, type: 'exit', exit: id, frame: 'x'.repeat(100) }, decision: id === 2 ? null : DECIDED })
  for (let id = 1; id <= 20; id++) { log.set(id, big(id)); log.trim(1000, 500) }
  t.same(ids(log), [2, 17, 18, 19, 20], 'five frames of 100 bytes; pending exit 2 stays')
})

void t.test('the exit log finds every id it holds, skipped ids and a store\'s out-of-order ids included', async t => {
  const log = new ExitLog()
  // Ids with gaps (the core may skip one), then ones given out of order (a store's document).
  for (const id of [3, 4, 6, 7, 10, 11, 12]) log.set(id, entry(id))
  for (const id of [3, 6, 7]) (log.get(id) as ExitEntry).decision = DECIDED
  log.trim(5)
  t.same(ids(log), [4, 7, 10, 11, 12], '3 and 6 dropped; pending 4 kept')
  for (const id of [4, 7, 10, 11, 12]) t.equal(log.get(id)?.event.exit, id, `finds ${id}`)
  for (const id of [1, 3, 5, 6, 8, 9, 13]) t.equal(log.get(id), undefined, `no ${id}`)
  log.set(9, entry(9))
  log.set(2, entry(2))
  log.set(11, { ...entry(11), decision: DECIDED })
  t.same(ids(log), [2, 4, 7, 9, 10, 11, 12], 'kept in id order')
  t.same(log.get(11)?.decision, DECIDED, 'an id set again is replaced, not added')
  t.equal(log.size, 7)
  for (const id of [2, 9]) t.equal(log.get(id)?.event.exit, id, `finds ${id}`)
})

void t.test('the exit log stays right past many compactions of its arrays', async t => {
  const log = new ExitLog()
  for (let id = 1; id <= 20_000; id++) {
    log.set(id, { ...entry(id), decision: id % 1000 === 0 ? null : DECIDED })
    log.trim(100)
  }
  const kept = ids(log)
  t.equal(kept.length, 100)
  // Exit 20,000 is pending too, but the newest: it is among the last ones, not passed yet.
  t.same(kept.slice(0, 19), Array.from({ length: 19 }, (_, i) => (i + 1) * 1000), 'the older pending ones, oldest first')
  t.same(kept.slice(19), Array.from({ length: 81 }, (_, i) => 19_920 + i), 'then the newest ones')
  t.equal(log.get(5000)?.event.exit, 5000)
  t.equal(log.get(19_950)?.event.exit, 19_950)
  t.equal(log.get(19_919), undefined)
})

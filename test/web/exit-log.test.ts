// The page's record of one VM's exits: journal and stream merge in any order, a decision
// is never undone, and the rate and latency come only from what the page saw live.
import t from 'tap'
import { ExitLog } from '../../web/exit-log.js'
import type { ExitMessage, JournalExit } from '../../src/client/types.js'

const exit = (n: number): ExitMessage => ({ type: 'exit', pending: true, vm: 'vm_x', seq: n * 2, exit: n, vcpu: 0, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 1, size: 1, port: 0x80, count: 1, data: [1] } })

void t.test('journal and stream merge; each exit once; decisions stick', async t => {
  const log = new ExitLog()
  log.addExit(exit(2), 1000)
  const journal: JournalExit[] = [{ ...exit(1), decision: { action: 'resume', by: 'rest', seq: 3 } }, { ...exit(2), decision: null }]
  log.addJournal(journal)
  t.equal(log.size, 2)
  t.same(log.pending().map(r => r.exit.exit), [2])
  log.addDecision(2, 'kill', 'controller', 1250)
  log.addDecision(2, 'resume', 'rest', 1300)
  log.addJournal([{ ...exit(2), decision: null }])
  t.same(log.recent(10).map(r => [r.exit.exit, r.decision?.action]), [[2, 'kill'], [1, 'resume']], 'newest first; the first decision stands')
  t.same(log.latency(), [250], 'only exits seen arriving give a latency')
  log.addDecision(99, 'kill', 'rule', 2000)
  t.equal(log.size, 2, 'a decision for an exit never seen is ignored')
})

void t.test('the exit rate counts per second over the last minute', async t => {
  const log = new ExitLog()
  for (let i = 0; i < 5; i++) log.addExit(exit(i + 1), 10_000 + i)
  log.addExit(exit(6), 11_500)
  let r = log.rates(11_900)
  t.equal(r.length, 60)
  t.same(r.slice(-2), [5, 1])
  r = log.rates(13_000)
  t.same(r.slice(-4), [5, 1, 0, 0], 'quiet seconds are zero')
  t.equal(log.rates(200_000).reduce((a, b) => a + b, 0), 0, 'a minute later all is gone')
})

void t.test('old decided exits are dropped, pending ones never', async t => {
  const log = new ExitLog(3)
  log.addExit(exit(1), null)
  for (let i = 2; i <= 20; i++) { log.addExit(exit(i), null); log.addDecision(i, 'resume', 'rule', null) }
  t.ok(log.size <= 8)
  t.same(log.pending().map(r => r.exit.exit), [1])
  t.equal(log.recent(1)[0]?.exit.exit, 20)
})

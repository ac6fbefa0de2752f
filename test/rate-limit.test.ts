// The rate limiter: a budget per caller per window, callers apart, a fresh budget each window,
// and a bounded table however many callers come.
import t from 'tap'
import { RateLimiter } from '../src/rate-limit.js'

void t.test('each caller has max requests per window, then is told how long to wait', async t => {
  let now = 1_000
  const rl = new RateLimiter(2, 60_000, () => now)
  const a = { id: 'a' }
  t.equal(rl.take(a), 0)
  t.equal(rl.take(a), 0)
  now += 15_000
  t.equal(rl.take(a), 45_000, 'the third waits for the rest of the window')
  t.equal(rl.take('10.0.0.1'), 0, 'another caller has its own budget')
  now += 45_000
  t.equal(rl.take(a), 0, 'a new window, a new budget')
})

void t.test('past the table size, new callers share one budget', async t => {
  const rl = new RateLimiter(1, 60_000, () => 0)
  let refused = 0
  for (let i = 0; i < 10_000; i++) refused += rl.take(`ip${i}`) > 0 ? 1 : 0
  t.equal(refused, 0, 'ten thousand callers, each within its budget')
  t.equal(rl.take('late-1'), 0, 'the first late caller gets the shared budget')
  t.ok(rl.take('late-2') > 0, 'the next one shares it, spent')
  t.ok(rl.take('ip0') > 0, 'a counted caller keeps its own count')
})

// The isolation bench's probe process: GET /healthz one request at a time, as a load
// balancer would, timing each. Run as `node --import tsx bench/lib/healthz-client.ts
// '<job json>'`; the result is one JSON line on stdout. Bounded by a count and a deadline.
export interface HealthzJob { url: string, samples: number }
export interface HealthzResult { us: number[], failures: number }

const DEADLINE_MS = 60_000
const now = (): number => Number(process.hrtime.bigint()) / 1000

const job = JSON.parse(process.argv[2] ?? '{}') as HealthzJob
const us: number[] = []
let failures = 0
const end = Date.now() + DEADLINE_MS
while (us.length < job.samples && Date.now() < end) {
  const t0 = now()
  const r = await fetch(job.url + '/healthz')
  await r.arrayBuffer()
  us.push(now() - t0)
  if (r.status !== 200) failures++
}
const result: HealthzResult = { us, failures }
process.stdout.write(JSON.stringify(result, (_k, v: unknown) => typeof v === 'number' ? Math.round(v * 10) / 10 : v) + '\n', () => process.exit(0))

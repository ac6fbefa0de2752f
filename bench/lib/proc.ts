// A benchmark's view of another process's CPU time, read from /proc (Linux): moves much less
// with other load on the machine than requests or frames per second do.
import { existsSync, readFileSync } from 'node:fs'

/** A process's user + system CPU seconds so far (10 ms resolution), or NaN off Linux. */
export function cpuSeconds (pid: number): number {
  const f = `/proc/${pid}/stat`
  if (!existsSync(f)) return NaN
  const fields = readFileSync(f, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

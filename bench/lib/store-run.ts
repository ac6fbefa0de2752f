// One store throughput run in its own process (bench/store.bench.ts spawns one per store
// and round, so that no run inherits another's heap): a server keeping its VMs in the
// named store, 16 VMs x 4 vCPUs exiting on every step, and the stream client in a process
// of its own deciding every exit on one socket. Prints the client's result as one JSON line.
// Run as `node --import tsx bench/lib/store-run.ts '<job json>'`.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../src/config.js'
import { localServer } from '../../src/local-server.js'
import { MemoryStore } from '../../src/store/memory.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { ThroughputResult } from './stream-client.js'

export interface StoreRunJob { store: 'sqlite' | 'memory' | 'none', file: string, echo: string, seconds: number }
export interface StoreRunResult extends ThroughputResult { cpuUsPerExit: number }

const here = dirname(fileURLToPath(import.meta.url))
const TOKEN = 'bench-operator-token-0000'
const EXIT_EVERY_STEP = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }]
const job = JSON.parse(process.argv[2] ?? '{}') as StoreRunJob

const store = job.store === 'sqlite' ? SqliteStore.open(job.file) : job.store === 'memory' ? new MemoryStore() : undefined
const server = await localServer({
  ...(store === undefined ? {} : { store }),
  tokens: [{ token: TOKEN, tenant: 'bench', role: 'operator' }],
  settings: { rateLimitPerMinute: 0, maxEventLoopDelayMs: 0, version: 'bench', stream: { ...loadConfig({}).stream } }
})
const vms: string[] = []
for (let i = 0; i < 16; i++) {
  const r = await server.app.inject({ method: 'POST', url: '/v1/vms', headers: { authorization: `Bearer ${TOKEN}` }, payload: { type: 'default', vcpus: 4, memory: { size_mib: 1 }, program: EXIT_EVERY_STEP } })
  vms.push((r.json() as { id: string }).id)
}
const cpu0 = process.cpuUsage()
const clientJob = { kind: 'throughput', api: server.url, echo: job.echo, token: TOKEN, vms, seconds: job.seconds, inFlight: 64 }
const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'stream-client.ts'), JSON.stringify(clientJob)], { stdio: ['ignore', 'pipe', 'inherit'] })
let out = ''
child.stdout.on('data', (d: Buffer) => { out += d.toString() })
const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
const cpu = process.cpuUsage(cpu0)
await server.close()
if (code !== 0) throw new Error(`client exited with ${code}`)
const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ThroughputResult
// The server's CPU (every thread: the store's writer too) per exit decided, warm-up included.
const cpuUsPerExit = (cpu.user + cpu.system) / result.exits
process.stdout.write(JSON.stringify({ ...result, cpuUsPerExit }) + '\n', () => process.exit(0))

// The container's runtime stage, repeated without Docker: the packed package installed with
// production dependencies only, in a folder of its own, must serve (healthz, a VM, one exit
// round trip over the stream) and close cleanly on SIGTERM; and another project can
// `import { FaultlineClient } from 'faultline/client'`, with its types.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { plainEnv } from '../child-env.js'

// npm install, a build and a server start: far longer than the suite's per-file default.
t.setTimeout(300_000)

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const TOKEN = 'package-test-admin-token-0001'
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string, version: string, bin: Record<string, string>, exports: Record<string, { types: string, default: string } | string>
}
const serverEntry = pkg.bin['faultline-server'] ?? ''

/** The child's environment: no test-runner loaders (a production process has none), no npm chatter. */
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
  plainEnv({ npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...extra })

async function run (cmd: string, args: string[], cwd: string, timeoutMs: number, env: Record<string, string> = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: childEnv(env), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}

const tmp = mkdtempSync(join(tmpdir(), 'faultline-package-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
const consumer = join(tmp, 'consumer')
const installed = join(consumer, 'node_modules', pkg.name)

t.before(async () => {
  await run('npm', ['run', 'build'], ROOT, 120_000)
  const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', tmp], ROOT, 60_000)) as { filename: string }[]
  const tarball = join(tmp, packed[0]?.filename ?? '')
  mkdirSync(consumer)
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  // Install scripts are skipped: the only one, better-sqlite3's native build, takes minutes,
  // and the addon the project's own install compiled is the same when the versions match.
  await run('npm', ['install', '--omit=dev', '--prefer-offline', '--ignore-scripts', '--no-package-lock', tarball], consumer, 180_000)
  const sqlite = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version
  const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'
  if (sqlite(ROOT) === sqlite(consumer) && existsSync(join(ROOT, addon))) {
    mkdirSync(dirname(join(consumer, addon)), { recursive: true })
    copyFileSync(join(ROOT, addon), join(consumer, addon))
  } else {
    await run('npm', ['rebuild', 'better-sqlite3'], consumer, 240_000)
  }
})

void t.test('the tarball carries the built code, its types and docs, and no tests or sources', async t => {
  t.ok(serverEntry.startsWith('dist/'), 'the server entry is built code')
  t.ok(existsSync(join(installed, serverEntry)), serverEntry)
  for (const [name, target] of Object.entries(pkg.exports)) {
    for (const file of typeof target === 'string' ? [target] : [target.types, target.default]) t.ok(existsSync(join(installed, file)), `exports["${name}"]: ${file}`)
  }
  for (const absent of ['test', 'bench', 'src', 'dist/test', 'dist/bench', 'node_modules/tap', 'node_modules/typescript']) {
    t.notOk(existsSync(join(installed, absent)) || existsSync(join(consumer, absent)), `${absent} is not shipped or installed`)
  }
  t.ok(existsSync(join(installed, 'docs/operations.md')))
})

void t.test('another project imports the client by its package name, with types', async t => {
  writeFileSync(join(consumer, 'exports.mjs'), [
    "const client = await import('faultline/client')",
    "const server = await import('faultline')",
    'console.log(JSON.stringify({ client: typeof client.FaultlineClient, stream: typeof client.ExitStream, start: typeof server.start }))'
  ].join('\n'))
  t.same(JSON.parse(await run(process.execPath, ['exports.mjs'], consumer, 30_000)), { client: 'function', stream: 'function', start: 'function' },
    'importing the server module does not start it (the script exits)')

  // Strict TypeScript in the consumer: an untyped import would be an implicit any (TS7016).
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true, types: [] },
    files: ['typed.ts']
  }))
  writeFileSync(join(consumer, 'typed.ts'), [
    "import { FaultlineClient } from 'faultline/client'",
    "import type { VmInfo } from 'faultline/client'",
    "export const vm: Promise<VmInfo> = new FaultlineClient({ url: 'http://127.0.0.1:1' }).createVm({ type: 'tdx', vcpus: 1 })"
  ].join('\n'))
  await t.resolves(run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', consumer], consumer, 60_000), 'the consumer type-checks against the shipped declarations')
  writeFileSync(join(consumer, 'typed.ts'), "import { FaultlineClient } from 'faultline/client'\nexport const n: number = new FaultlineClient({})\n")
  await t.rejects(run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', consumer], consumer, 60_000), /TS2322/, 'and the types are real: a wrong use fails')
})

void t.test('the installed server serves, does an exit round trip over the stream, and exits 0 on SIGTERM', async t => {
  const data = join(tmp, 'data')
  const child = spawn(process.execPath, [join(installed, serverEntry)], {
    cwd: consumer,
    env: childEnv({ NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', FAULTLINE_TOKEN: TOKEN, FAULTLINE_DATA_DIR: data, LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => { clearTimeout(guard); resolve({ code, signal }) }))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let log = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      log += d.toString()
      const m = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(log)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    void exited.then(({ code }) => reject(new Error(`the server exited (${code}) before listening:\n${stderr}`)))
  })

  const health = await fetch(`${url}/healthz`)
  t.equal(health.status, 200)

  // The round trip runs in the consumer, through the installed client: one exit, one decision.
  writeFileSync(join(consumer, 'round-trip.mjs'), `
import { FaultlineClient } from 'faultline/client'
const client = new FaultlineClient({ url: process.env.URL, token: process.env.TOKEN, timeoutMs: 10000 })
const program = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }]
const vm = await client.createVm({ type: 'sw_protected', vcpus: 1, memory: { size_mib: 16 }, program })
const stream = client.stream({ reconnect: false })
await stream.ready()
await stream.subscribe(vm.id, { role: 'controller' })
await client.action(vm.id, 'start')
const exits = stream.exits()
const first = (await exits.next()).value
const ack = await stream.decide(vm.id, first, 'resume')
const second = (await exits.next()).value
await client.action(vm.id, 'kill')
await stream.close()
console.log(JSON.stringify({ vm: vm.id, first: { exit: first.exit, reason: first.reason }, ack: ack.type, second: second.exit }))
`)
  const out = JSON.parse(await run(process.execPath, ['round-trip.mjs'], consumer, 30_000, { URL: url, TOKEN })) as { first: { exit: number, reason: string }, ack: string, second: number }
  t.match(out, { first: { reason: 'KVM_EXIT_IO' }, ack: 'ack' })
  t.ok(out.second > out.first.exit, 'the resumed vCPU ran on to its next exit')

  child.kill('SIGTERM')
  t.same(await exited, { code: 0, signal: null }, 'SIGTERM closes the server gracefully, exit code 0')
  t.match(log, /"signal":"SIGTERM","msg":"closing"/)
  t.notOk(log.includes(TOKEN), 'the token never reaches the log')
})

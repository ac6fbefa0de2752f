// The process as `npm start` runs it: importing server.ts starts nothing; start() reads the
// config, makes and announces a token when none is configured, serves, and closes; a bad
// variable stops the entry point with exit code 78 naming it; SIGTERM closes it with 0.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../src/config.js'
import { start } from '../src/server.js'
import { plainEnv } from './child-env.js'

const dataDir = (t: { teardown: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-server-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

void t.test('start() with no token configured makes one, announces it, writes it 0600, and serves with it', async t => {
  const data = dataDir(t)
  const announced: string[] = []
  const server = await start({
    env: { HOST: '127.0.0.1', PORT: '0', FAULTLINE_DATA_DIR: data, LOG_LEVEL: 'silent' },
    handleSignals: false,
    announce: (line) => { announced.push(line) }
  })
  t.teardown(() => server.close())
  const token = readFileSync(join(data, 'token'), 'utf8').trim()
  t.ok(token.length >= 24, 'a long random token')
  t.equal(announced.length, 1)
  t.ok(announced[0]?.includes(token), 'announced once, with where it is')
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal((await fetch(server.url + '/healthz')).status, 200)
  t.equal((await fetch(server.url + '/v1/vms')).status, 401, 'no token, no VMs')
  const r = await fetch(server.url + '/v1/vms', { headers: { authorization: `Bearer ${token}` } })
  t.equal(r.status, 200)
  await server.close()
  await t.rejects(fetch(server.url + '/healthz'), 'closed: nothing listens')
})

void t.test('start() refuses a bad configuration before opening anything, naming each bad variable', async t => {
  const err = await start({ env: { PORT: 'eighty', FAULTLINE_MAX_VCPUS: '999', LOG_LEVEL: 'silent' }, handleSignals: false }).then(() => null, (e: unknown) => e)
  t.type(err, ConfigError)
  t.match((err as Error).message, /PORT="eighty"/)
  t.match((err as Error).message, /FAULTLINE_MAX_VCPUS="999"/)
})

interface Exit { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

function runMain (env: Record<string, string>, onOutput?: (stdout: string, child: ReturnType<typeof spawn>) => void): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: plainEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); onOutput?.(stdout, child) })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  // Bounded: a child that hangs is killed and the test sees the signal.
  const guard = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  return new Promise(resolve => child.on('exit', (code, signal) => { clearTimeout(guard); resolve({ code, signal, stdout, stderr }) }))
}

void t.test('the entry point exits 78 (EX_CONFIG) on a bad variable, with one line naming it', async t => {
  const r = await runMain({ PORT: '70000', FAULTLINE_DATA_DIR: dataDir(t) })
  t.equal(r.code, 78)
  t.match(r.stderr, /PORT="70000": must be an integer from 0 to 65535/)
  t.notMatch(r.stderr, /\n\s+at /, 'a message, not a stack')
})

void t.test('SIGTERM closes the server gracefully with exit code 0', async t => {
  let sent = false
  const r = await runMain(
    { HOST: '127.0.0.1', PORT: '0', FAULTLINE_DATA_DIR: dataDir(t), FAULTLINE_TOKEN: 'server-test-token-0123456789', LOG_LEVEL: 'info' },
    (out, child) => {
      if (!sent && /Server listening at/.test(out)) { sent = true; child.kill('SIGTERM') }
    })
  t.ok(sent, 'it listened')
  t.equal(r.signal, null)
  t.equal(r.code, 0)
  t.match(r.stdout, /"msg":"closing"/)
  t.notMatch(r.stdout + r.stderr, /server-test-token-0123456789/, 'the token is never logged')
})

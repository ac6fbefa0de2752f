// Tokens on disk: the generated token is written only into a plain file of its own (never
// through a symlink or a hard link), printed on stderr rather than in the JSON log on stdout,
// and a tokens file that group or others can read is warned about.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveTokens } from '../../src/auth/bootstrap.js'
import { generateAdminToken, TokenConfigError, tokensFileModeWarning } from '../../src/auth/tokens.js'
import { plainEnv } from '../child-env.js'

const ENTRY = { token: '0123456789abcdef', tenant: 't', role: 'admin' as const }

function tempDir (t: { teardown (fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-tokens-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A file elsewhere that a planted link points at, with content that must survive. */
function victim (dir: string): string {
  const file = join(dir, 'victim')
  writeFileSync(file, 'keep me\n', { mode: 0o644 })
  chmodSync(file, 0o644)
  return file
}

void t.test('a symlink at <data>/token is refused and its target left untouched', async t => {
  const dir = tempDir(t)
  const data = join(dir, 'data')
  mkdirSync(data)
  const target = victim(dir)
  symlinkSync(target, join(data, 'token'))
  t.throws(() => generateAdminToken(data), { name: 'TokenConfigError', message: /token is a symbolic link: refusing/ })
  t.equal(readFileSync(target, 'utf8'), 'keep me\n')
  t.equal(statSync(target).mode & 0o777, 0o644, 'the target is not chmodded')
  t.ok(lstatSync(join(data, 'token')).isSymbolicLink(), 'the link itself is left for the operator to see')

  const dangling = join(dir, 'data2')
  mkdirSync(dangling)
  symlinkSync(join(dir, 'would-be-created'), join(dangling, 'token'))
  t.throws(() => generateAdminToken(dangling), TokenConfigError)
  t.notOk(existsSync(join(dir, 'would-be-created')), 'a dangling link does not create its target')
})

void t.test('a hard link or a non-file at <data>/token is refused before anything is truncated', async t => {
  const dir = tempDir(t)
  const data = join(dir, 'data')
  mkdirSync(data)
  const target = victim(dir)
  linkSync(target, join(data, 'token'))
  t.throws(() => generateAdminToken(data), { name: 'TokenConfigError', message: /not a plain file with a single link/ })
  t.equal(readFileSync(target, 'utf8'), 'keep me\n')

  const withDir = join(dir, 'data2')
  mkdirSync(join(withDir, 'token'), { recursive: true })
  t.throws(() => generateAdminToken(withDir), { name: 'TokenConfigError', message: /cannot write the admin token to .*token \(EISDIR\)/ })

  const withFifo = join(dir, 'data3')
  mkdirSync(withFifo)
  if (spawnSync('mkfifo', [join(withFifo, 'token')]).status !== 0) { t.comment('no mkfifo here: FIFO case not checked'); return }
  t.throws(() => generateAdminToken(withFifo), { name: 'TokenConfigError', message: /ENXIO/ }, 'a FIFO with no reader fails at once instead of blocking')
})

void t.test('an existing plain token file is rewritten with mode 0600', async t => {
  const data = join(tempDir(t), 'data')
  mkdirSync(data)
  writeFileSync(join(data, 'token'), 'an older and much longer token than the new one will be, surely\n', { mode: 0o644 })
  chmodSync(join(data, 'token'), 0o644)
  const { token, path } = generateAdminToken(data)
  t.equal(readFileSync(path, 'utf8'), token + '\n', 'the old content is truncated away')
  t.equal(statSync(path).mode & 0o777, 0o600)
})

void t.test('a tokens file readable by group or others is warned about, naming who can read it', async t => {
  const file = join(tempDir(t), 'tokens.json')
  writeFileSync(file, JSON.stringify([ENTRY]))
  const cases: [number, RegExp | null][] = [
    [0o600, null], [0o400, null], [0o640, /readable by group \(mode 0640\)/], [0o604, /readable by others \(mode 0604\)/],
    [0o644, /readable by group and others \(mode 0644\).*chmod 600/]
  ]
  for (const [mode, expected] of cases) {
    chmodSync(file, mode)
    const warning = tokensFileModeWarning(file)
    if (expected === null) t.equal(warning, null, mode.toString(8))
    else t.match(warning, expected, mode.toString(8))
  }

  chmodSync(file, 0o644)
  const warned: string[] = []
  const entries = resolveTokens({ tokens: { kind: 'file', path: file, entries: [ENTRY] }, dataDir: '/nonexistent' }, () => t.fail('prints no token'), l => warned.push(l))
  t.same(entries, [ENTRY])
  t.equal(warned.length, 1)
  t.match(warned[0], /^faultline: warning: tokens file .*tokens\.json is readable by group and others/)
  t.notOk(warned[0]?.includes(ENTRY.token), 'the warning never shows a token')

  chmodSync(file, 0o600)
  resolveTokens({ tokens: { kind: 'file', path: file, entries: [ENTRY] }, dataDir: '/nonexistent' }, () => t.fail('prints no token'), () => t.fail('no warning at 0600'))
  resolveTokens({ tokens: { kind: 'env', entries: [ENTRY] }, dataDir: '/nonexistent' }, () => t.fail('prints no token'), () => t.fail('no file, no warning'))
})

void t.test('by default the generated token goes to stderr, never to stdout', async t => {
  const data = join(tempDir(t), 'data')
  const out: string[] = []
  const err: string[] = []
  const { stdout, stderr } = process
  const writeOut = stdout.write
  const writeErr = stderr.write
  // Swapped only for the synchronous call: tap reports on stdout.
  stdout.write = ((s: string) => { out.push(s); return true }) as typeof stdout.write
  stderr.write = ((s: string) => { err.push(s); return true }) as typeof stderr.write
  let token: string | undefined
  try {
    token = resolveTokens({ tokens: { kind: 'generate' }, dataDir: data })[0]?.token
  } finally {
    stdout.write = writeOut
    stderr.write = writeErr
  }
  t.same(out, [])
  t.equal(err.length, 1)
  t.ok(token !== undefined && err[0]?.includes(token))
})

/** Runs the server entry (src/main.ts) as `npm start` would, with its own data dir. */
function runMain (data: string): { exit: Promise<number | null>, stdout: () => string, stderr: () => string, kill: () => void } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: plainEnv({ HOST: '127.0.0.1', PORT: '0', FAULTLINE_DATA_DIR: data, FAULTLINE_TOKEN: '', FAULTLINE_TOKENS_FILE: '', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  // Never outlive the test, whatever happens.
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000)
  void exit.then(() => clearTimeout(guard))
  return { exit, stdout: () => out, stderr: () => err, kill: () => child.kill('SIGTERM') }
}

async function until (what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise(resolve => setTimeout(resolve, 50))) {
    if (what()) return true
  }
  return what()
}

void t.test('the server process prints the generated token on stderr and keeps it out of the JSON log', async t => {
  const data = join(tempDir(t), 'data')
  const run = runMain(data)
  t.ok(await until(() => run.stdout().includes('Server listening'), 25_000), 'the server starts')
  run.kill()
  t.equal(await run.exit, 0, 'SIGTERM closes it cleanly')
  const token = readFileSync(join(data, 'token'), 'utf8').trim()
  t.match(run.stderr(), new RegExp(`^faultline admin token \\(also in .*token, mode 0600\\): ${token}\\n$`))
  const lines = run.stdout().trim().split('\n')
  t.ok(lines.length >= 2)
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), 'stdout is the JSON log only')
  t.notOk(run.stdout().includes(token), 'the token is not in the log')
})

void t.test('the server process refuses a symlink at <data>/token with one line and exit 78', async t => {
  const dir = tempDir(t)
  const data = join(dir, 'data')
  mkdirSync(data)
  const target = victim(dir)
  symlinkSync(target, join(data, 'token'))
  const run = runMain(data)
  t.equal(await run.exit, 78)
  t.match(run.stderr(), /^faultline: .*token is a symbolic link: refusing to write the admin token through it \(remove it, or set FAULTLINE_TOKEN\)\n$/)
  t.equal(run.stdout(), '')
  t.equal(readFileSync(target, 'utf8'), 'keep me\n')
})

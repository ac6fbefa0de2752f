// The CLI grammar: every command line it accepts, what it makes of it, and what it refuses.
import t from 'tap'
import { intFlag, parseCli, UsageError } from '../../src/cli/args.js'
import { resolveConnection, tokenFilePath } from '../../src/cli/config.js'
import { serveEnv } from '../../src/cli/serve.js'

const cmd = (line: string): unknown => parseCli(line === '' ? [] : line.split(' ')).command

void t.test('global options go anywhere and are picked up', async (t) => {
  t.same(parseCli(['--url', 'http://h:1', 'vm', 'list', '--token', 'abc', '--json']).globals, { url: 'http://h:1', token: 'abc', json: true })
  t.same(parseCli(['vm', 'list', '--no-color']).globals, { json: false, colour: false })
  t.same(parseCli(['--color', 'presets']).globals, { json: false, colour: true })
})

void t.test('help, version and serve', async (t) => {
  t.same(cmd(''), { kind: 'help' })
  t.same(cmd('help vm'), { kind: 'help', topic: 'vm' })
  t.same(cmd('version'), { kind: 'version' })
  t.same(cmd('serve'), { kind: 'serve' })
  t.same(cmd('serve --host 0.0.0.0 --port 9000'), { kind: 'serve', host: '0.0.0.0', port: 9000 })
  t.throws(() => cmd('serve --port 70000'), /--port takes an integer from 0 to 65535/)
  t.throws(() => cmd('serve now'), UsageError)
})

void t.test('vm create: flags become the contract\'s body', async (t) => {
  t.same(cmd('vm create'), { kind: 'vm-create', body: { type: 'tdx', vcpus: 1, memory: { size_mib: 1024 } } })
  t.same(cmd('vm create --name a --type snp --vcpus 4 --memory-mib 64 --seed 7 --autostart --program p.json'), {
    kind: 'vm-create',
    body: { type: 'snp', vcpus: 4, memory: { size_mib: 64 }, name: 'a', seed: 7, autostart: true },
    programFile: 'p.json'
  })
  t.same(cmd('vm create --preset tdx-boot --gpaw 52'), { kind: 'vm-create', body: { type: 'tdx', vcpus: 1, preset: 'tdx-boot', gpaw: 52 } },
    'a preset brings its own memory size')
  t.throws(() => cmd('vm create --type sev'), /--type is one of default, sw_protected, snp, tdx/)
  t.throws(() => cmd('vm create --vcpus 0'), /--vcpus/)
  t.throws(() => cmd('vm create --vcpus two'), /--vcpus/)
  t.throws(() => cmd('vm create --gpaw 50'), /--gpaw is 48 or 52/)
  t.throws(() => cmd('vm create --preset x --program y'), /exclusive/)
  t.throws(() => cmd('vm create --colour'), UsageError, 'unknown flags are refused')
  t.throws(() => cmd('vm create extra'), /unexpected arguments/)
})

void t.test('vm list, show, rm, memory, exits and every lifecycle action', async (t) => {
  t.same(cmd('vm list'), { kind: 'vm-list', all: false })
  t.same(cmd('vm list --limit 5 --all'), { kind: 'vm-list', all: true, limit: 5 })
  t.same(cmd('vm show v1'), { kind: 'vm-show', vm: 'v1' })
  t.same(cmd('vm rm v1'), { kind: 'vm-rm', vm: 'v1' })
  t.same(cmd('vm memory v1'), { kind: 'vm-memory', vm: 'v1' })
  t.same(cmd('vm exits v1'), { kind: 'vm-exits', vm: 'v1' })
  for (const action of ['start', 'stop', 'pause', 'resume', 'kill', 'reset']) {
    t.same(cmd(`vm ${action} v1`), { kind: 'vm-action', vm: 'v1', action })
  }
  t.throws(() => cmd('vm'), /missing a vm command/)
  t.throws(() => cmd('vm show'), /missing the VM/)
  t.throws(() => cmd('vm show a b'), /unexpected arguments: b/)
  t.throws(() => cmd('vm explode v1'), /unknown vm command: explode/)
  t.throws(() => cmd('vm list x y'), /unexpected/)
})

void t.test('watch and decide', async (t) => {
  t.same(cmd('watch v1'), { kind: 'watch', vm: 'v1', follow: false })
  t.same(cmd('watch v1 --since 10 --follow'), { kind: 'watch', vm: 'v1', follow: true, since: 10 })
  t.same(cmd('watch *'), { kind: 'watch', vm: '*', follow: true }, 'every VM: no natural end')
  t.same(cmd('decide v1 --policy always-convert'), { kind: 'decide', vm: 'v1', policy: 'always-convert', takeover: false, maxRepeats: 3, follow: false })
  t.same(cmd('decide v1 --policy p.json --takeover --max-repeats 10 --follow'), { kind: 'decide', vm: 'v1', policy: 'p.json', takeover: true, maxRepeats: 10, follow: true })
  t.throws(() => cmd('decide v1'), /--policy is required/)
  t.same(cmd('decide --policy always-convert'), { kind: 'decide', policy: 'always-convert', takeover: false, maxRepeats: 3, follow: false },
    'no VM: FAULTLINE_VM names it')
  t.throws(() => cmd('decide a b --policy always-convert'), /unexpected arguments: b/)
  t.throws(() => cmd('decide * --policy always-convert'), /not \*/)
  t.throws(() => cmd('watch'), /missing the VM to watch/)
  t.throws(() => cmd('frobnicate'), /unknown command: frobnicate/)
})

void t.test('check, test and record: what follows -- is the controller, never our options', async (t) => {
  t.same(cmd('check -- node ctl.js --verbose'), { kind: 'check', controller: ['node', 'ctl.js', '--verbose'], cases: [], timeoutMs: 10000 })
  t.same(parseCli('--url http://h:1 check --case hwpoison --case guest-crash --timeout 500 --junit j.xml -- ./ctl --url x'.split(' ')), {
    globals: { url: 'http://h:1', json: false },
    command: { kind: 'check', controller: ['./ctl', '--url', 'x'], cases: ['hwpoison', 'guest-crash'], timeoutMs: 500, junit: 'j.xml' }
  })
  t.throws(() => cmd('check'), /check needs the controller to run/)
  t.throws(() => cmd('check --'), /check needs the controller to run/)
  t.throws(() => cmd('check extra -- ctl'), /unexpected arguments: extra \(the controller goes after --\)/)
  t.throws(() => cmd('check --timeout 5 -- ctl'), /--timeout takes an integer from 100/)

  t.same(cmd('test traces -- ./ctl'), { kind: 'test', traces: ['traces'], controller: ['./ctl'], decide: 'controller', onDivergence: 'continue', timeoutMs: 60000 })
  t.same(cmd('test a.ndjson b --decide recorded --on-divergence stop --timeout 1000 --junit r.xml'), {
    kind: 'test', traces: ['a.ndjson', 'b'], controller: [], decide: 'recorded', onDivergence: 'stop', timeoutMs: 1000, junit: 'r.xml'
  })
  t.match(cmd('test t --on-divergence use_recorded -- c'), { onDivergence: 'use_recorded' })
  t.throws(() => cmd('test -- ctl'), /test needs trace files or directories/)
  t.throws(() => cmd('test t'), /test needs the controller to run .* or --decide recorded/)
  t.throws(() => cmd('test t --decide recorded -- ctl'), /--decide recorded runs no controller/)
  t.throws(() => cmd('test t --decide nobody -- ctl'), /--decide is controller or recorded, not "nobody"/)
  t.throws(() => cmd('test t --on-divergence panic -- ctl'), /--on-divergence is stop, continue or use_recorded/)

  t.same(cmd('record v1'), { kind: 'record', vm: 'v1', follow: false, timeoutMs: 600000 })
  t.same(cmd('record v1 -o t.ndjson --follow --timeout 2000'), { kind: 'record', vm: 'v1', follow: true, timeoutMs: 2000, output: 't.ndjson' })
  t.throws(() => cmd('record'), /missing the VM to record/)
  t.throws(() => cmd('record v1 -- x'), /record runs no command: nothing may follow --/)
  t.throws(() => cmd('-- x'), /faultline runs no command/)
})

void t.test('intFlag accepts decimal integers in range only', async (t) => {
  t.equal(intFlag('n', undefined, 0, 5), undefined)
  t.equal(intFlag('n', '5', 0, 5), 5)
  t.equal(intFlag('n', '-1', -1, 5), -1)
  for (const bad of ['6', '1e3', '0x10', '', ' 1']) t.throws(() => intFlag('n', bad, 0, 5), UsageError, bad)
})

void t.test('connection: flag, then environment, then the server\'s token file', async (t) => {
  const files: Record<string, string> = { 'data/token': 'from-file\n', '/srv/fl/token': 'srv-token' }
  const read = (p: string): string | undefined => files[p]
  t.same(resolveConnection({ json: false }, {}, read), { url: 'http://127.0.0.1:8080', token: 'from-file', tokenSource: 'file' })
  t.same(resolveConnection({ json: false, url: 'http://x', token: 'flag' }, { FAULTLINE_TOKEN: 'env' }, read), { url: 'http://x', token: 'flag', tokenSource: 'flag' })
  t.same(resolveConnection({ json: false }, { FAULTLINE_URL: 'http://y', FAULTLINE_TOKEN: 'env' }, read), { url: 'http://y', token: 'env', tokenSource: 'env' })
  t.same(resolveConnection({ json: false }, { FAULTLINE_DATA_DIR: '/srv/fl' }, read), { url: 'http://127.0.0.1:8080', token: 'srv-token', tokenSource: 'file' })
  t.same(resolveConnection({ json: false }, { FAULTLINE_DATA_DIR: '/nowhere' }, read), { url: 'http://127.0.0.1:8080', tokenSource: 'none' })
  t.equal(tokenFilePath({}), 'data/token')
})

void t.test('serve passes its flags to the server as HOST and PORT', async (t) => {
  t.same(serveEnv({ host: '0.0.0.0', port: 0 }, { PORT: '1', X: 'y' }), { PORT: '0', X: 'y', HOST: '0.0.0.0' })
  t.same(serveEnv({}, { PORT: '1' }), { PORT: '1' })
})

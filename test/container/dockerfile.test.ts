// The Dockerfile held to the rules of the image (no Docker engine runs here): multi-stage on
// node:20-bookworm-slim, compilers only in build stages, production dependencies and built
// code only at run time, non-root, 0.0.0.0:8080, the data volume, a node HEALTHCHECK that
// works, an exec-form CMD running the server entry; every COPY source exists and is not
// ignored; .dockerignore keeps local state out of the build context.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DockerfileParser } from 'dockerfile-ast'
import type { Instruction } from 'dockerfile-ast'
import { plainEnv } from '../child-env.js'
import { build } from '../helper.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const BASE = 'node:20-bookworm-slim'
const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))
const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }

interface Stage { name: string, from: string, instructions: Instruction[] }

/** The build stages in order, each with its FROM image and its own instructions. */
function stages (): Stage[] {
  const out: Stage[] = []
  for (const i of dockerfile.getInstructions()) {
    if (i.getKeyword() === 'FROM') {
      const [from = '', as, name = ''] = i.getArguments().map(a => a.getValue())
      out.push({ name: as?.toUpperCase() === 'AS' ? name : '', from, instructions: [] })
    } else {
      out.at(-1)?.instructions.push(i)
    }
  }
  return out
}

const args = (i: Instruction): string[] => i.getArguments().map(a => a.getValue())
const of = (s: Stage, keyword: string): Instruction[] => s.instructions.filter(i => i.getKeyword() === keyword)
const runs = (s: Stage): string => of(s, 'RUN').map(i => args(i).join(' ')).join('\n')
/** ENV of a stage as name -> value (both ENV forms). */
function env (s: Stage): Map<string, string> {
  const m = new Map<string, string>()
  for (const i of of(s, 'ENV')) {
    for (const p of (i as unknown as { getProperties (): { getName (): string, getValue (): string | null }[] }).getProperties()) m.set(p.getName(), p.getValue() ?? '')
  }
  return m
}
/** A COPY's --from flag, or null. */
const copyFrom = (i: Instruction): string | null => (i as unknown as { getFromFlag (): { getValue (): string | null } | null }).getFromFlag()?.getValue() ?? null
const jsonArgs = (i: Instruction): string[] => (i as unknown as { getJSONStrings (): { getJSONValue (): string }[] }).getJSONStrings().map(j => j.getJSONValue())

const all = stages()
const runtime = all.at(-1) as Stage

void t.test('multi-stage on node:20-bookworm-slim; every stage named; each base is the image or an earlier stage', async t => {
  t.ok(all.length >= 2, 'at least a build stage and a runtime stage')
  const seen = new Set<string>()
  for (const s of all) {
    t.not(s.name, '', `the stage FROM ${s.from} is named`)
    t.ok(s.from === BASE || seen.has(s.from), `${s.name}: FROM ${s.from}`)
    seen.add(s.name)
  }
  t.equal(runtime.from, BASE, 'the runtime starts from the plain image, not from a stage with compilers')
})

void t.test('python3, make and g++ are installed for better-sqlite3, in a build stage only', async t => {
  const toolchain = all.filter(s => /apt-get install/.test(runs(s)))
  t.ok(toolchain.length > 0)
  for (const s of toolchain) for (const tool of ['python3', 'make', 'g++']) t.match(runs(s), new RegExp(`apt-get install[^\\n]*\\s${tool.replace('+', '\\+')}(\\s|$)`), `${s.name} installs ${tool}`)
  t.notMatch(runs(runtime), /apt-get|npm (ci|install)|npm prune/, 'the runtime installs nothing: it copies what the other stages made')
})

void t.test('the runtime has production dependencies from npm ci --omit=dev and the built code only', async t => {
  const byName = new Map(all.map(s => [s.name, s]))
  const lineage = (s: Stage | undefined): Stage[] => s === undefined ? [] : [s, ...lineage(byName.get(s.from))]
  const copies = of(runtime, 'COPY')
  const modules = copies.find(i => args(i)[0]?.endsWith('node_modules'))
  const deps = byName.get(modules === undefined ? '' : copyFrom(modules) ?? '')
  t.ok(deps, 'node_modules comes from a named stage')
  const installs = lineage(deps).map(runs).join('\n').match(/npm (ci|install)[^\n&]*/g) ?? []
  t.ok(installs.length > 0 && installs.every(c => c.startsWith('npm ci') && c.includes('--omit=dev')), `that stage's installs are npm ci --omit=dev: ${installs.join('; ')}`)
  t.notMatch(lineage(deps).map(runs).join('\n'), /npm run build/, 'and it builds nothing')

  const dist = copies.find(i => args(i)[0]?.endsWith('dist'))
  const builder = byName.get(dist === undefined ? '' : copyFrom(dist) ?? '')
  t.ok(builder, 'dist comes from a named stage')
  t.match(runs(builder as Stage), /npm run build/)

  const local = copies.filter(i => copyFrom(i) === null).flatMap(i => args(i).slice(0, -1))
  t.same(local, ['package.json'], 'from the context, only package.json (the module type and the version) reaches the runtime')
})

void t.test('non-root, 0.0.0.0:8080, the data directory a volume the server can write', async t => {
  const users = of(runtime, 'USER').map(i => args(i)[0] ?? '')
  t.ok(users.length > 0, 'the runtime sets a USER')
  const user = (users.at(-1) ?? '').split(':')[0]
  t.ok(user !== undefined && user !== '' && user !== 'root' && user !== '0', `USER ${users.at(-1)} is not root`)
  const e = env(runtime)
  t.equal(e.get('HOST'), '0.0.0.0')
  t.equal(e.get('PORT'), '8080')
  t.same(of(runtime, 'EXPOSE').map(args), [['8080']])
  const data = e.get('FAULTLINE_DATA_DIR') ?? ''
  t.ok(data.startsWith('/'), 'FAULTLINE_DATA_DIR is an absolute path')
  const volumes = of(runtime, 'VOLUME').flatMap(i => jsonArgs(i).length > 0 ? jsonArgs(i) : args(i))
  t.ok(volumes.includes(data), `VOLUME ${data}`)
  const volumeAt = runtime.instructions.findIndex(i => i.getKeyword() === 'VOLUME')
  const prepared = runtime.instructions.findIndex(i => i.getKeyword() === 'RUN' && args(i).join(' ').includes(`chown ${users.at(-1) ?? ''} ${data}`))
  t.ok(prepared >= 0 && prepared < volumeAt, 'the mount point is given to the server user before VOLUME (later changes to it are lost)')
})

void t.test('CMD is exec form and runs the server entry the package ships', async t => {
  const cmds = of(runtime, 'CMD')
  t.equal(cmds.length, 1)
  const cmd = jsonArgs(cmds[0] as Instruction)
  t.ok(cmd.length > 0, 'exec form (JSON array): node is PID 1 and gets SIGTERM itself')
  t.equal(cmd[0], 'node')
  t.equal(cmd[1], pkg.bin['faultline-server'], 'the same entry as the faultline-server command')
  t.ok(existsSync(join(ROOT, (cmd[1] ?? '').replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${cmd[1]} is built from a source in the repo`)
  t.same(of(runtime, 'ENTRYPOINT'), [], 'no ENTRYPOINT wraps it in a shell')
  const stop = of(runtime, 'STOPSIGNAL').map(i => args(i)[0])
  t.ok(stop.length === 0 || stop[0] === 'SIGTERM', 'docker stop sends SIGTERM, which the server handles')
})

void t.test('the HEALTHCHECK runs node, and its script passes on a serving server and fails on a dead port', async t => {
  const checks = of(runtime, 'HEALTHCHECK')
  t.equal(checks.length, 1)
  const content = (checks[0] as Instruction).getArgumentsContent() ?? ''
  t.match(content, /^CMD \[/, 'exec form: no shell in the image is needed')
  const argv = JSON.parse(content.replace(/^CMD /, '')) as string[]
  t.equal(argv[0], 'node')

  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const check = async (p: number): Promise<number> => await new Promise(resolve => {
    const child = execFile(process.execPath, argv.slice(1), { env: plainEnv({ PORT: String(p) }), timeout: 10_000 }, () => resolve(child.exitCode ?? -1))
  })
  t.equal(await check(port), 0, 'healthy while /healthz answers 200')
  await app.close()
  t.equal(await check(port), 1, 'unhealthy when nothing answers')
})

void t.test('every COPY source exists in the context and is not ignored, or comes from an earlier stage', async t => {
  const isIgnored = (path: string): boolean => ignored.some(p => path === p || path.startsWith(p.replace(/\/$/, '') + '/'))
  const named = new Set<string>()
  for (const s of all) {
    for (const i of of(s, 'COPY')) {
      const from = copyFrom(i)
      const sources = args(i).slice(0, -1)
      if (from !== null) {
        t.ok(named.has(from), `COPY --from=${from} names an earlier stage`)
        continue
      }
      for (const src of sources) {
        t.ok(existsSync(join(ROOT, src)), `${s.name}: COPY ${src} exists`)
        t.notOk(isIgnored(src), `${s.name}: COPY ${src} is not in .dockerignore`)
      }
    }
    named.add(s.name)
  }
  t.same(of(runtime, 'ADD'), [], 'no ADD (COPY says exactly what it does)')
})

void t.test('.dockerignore keeps local installs, builds, state, results and history out', async t => {
  for (const entry of ['node_modules', 'dist', 'data', 'bench/results', '.git']) t.ok(ignored.includes(entry), entry)
})

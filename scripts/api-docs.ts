// Writes /openapi.json and /asyncapi.json exactly as the app serves them, then lints both
// with Redocly (redocly.yaml). Fails on any error or warning. `npm run lint` runs it. The
// documents stay in dist/api-docs/ (a build output, for generators): the path is fixed so
// that .redocly.lint-ignore.yaml can name the few places a rule does not fit.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { localServer } from '../src/local-server.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The documents as GET returns them (both routes are public: no token needed). */
async function fetchDocuments (): Promise<Record<string, string>> {
  const { app, close } = await localServer({ listen: false })
  try {
    const out: Record<string, string> = {}
    for (const name of ['openapi.json', 'asyncapi.json']) {
      const r = await app.inject({ method: 'GET', url: `/${name}` })
      if (r.statusCode !== 200) throw new Error(`GET /${name}: ${r.statusCode} ${r.body}`)
      out[name] = JSON.stringify(r.json(), null, 2) + '\n'
    }
    return out
  } finally {
    await close()
  }
}

interface Problem { ruleId: string, severity: string, message: string, location: { pointer?: string }[] }
interface LintResult { totals: { errors: number, warnings: number }, problems: Problem[] }

/** Redocly's findings for one file (its JSON report, so warnings can fail the run too). */
function lint (file: string): LintResult {
  const require = createRequire(import.meta.url)
  const pkg = require.resolve('@redocly/cli/package.json')
  const bin = join(dirname(pkg), (JSON.parse(readFileSync(pkg, 'utf8')) as { bin: { redocly: string } }).bin.redocly)
  const r = spawnSync(process.execPath, [bin, 'lint', file, '--config', join(root, 'redocly.yaml'), '--format', 'json'], {
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' }
  })
  const start = r.stdout.indexOf('{')
  if (start < 0) throw new Error(`redocly lint ${file} gave no report (exit ${r.status ?? r.signal}): ${r.stderr}`)
  return JSON.parse(r.stdout.slice(start)) as LintResult
}

const dir = join(root, 'dist', 'api-docs')
mkdirSync(dir, { recursive: true })
let failed = 0
for (const [name, text] of Object.entries(await fetchDocuments())) {
  const file = join(dir, name)
  writeFileSync(file, text)
  const { totals, problems } = lint(file)
  for (const p of problems) console.log(`${name}: ${p.severity} ${p.ruleId}: ${p.message} (${p.location.map(l => l.pointer ?? '').join(', ')})`)
  console.log(`${name}: ${totals.errors} errors, ${totals.warnings} warnings`)
  failed += totals.errors + totals.warnings
}
if (failed > 0) process.exitCode = 1

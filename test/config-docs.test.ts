// The README's configuration table and docs/operations.md's lists exactly the variables the
// server reads (recorded as loadConfig reads them), each with its real default.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { INTEGER_VARS, loadConfig } from '../src/config.js'

/** Every variable loadConfig reads, found by watching it read an empty environment. */
function variablesRead (): Set<string> {
  const read = new Set<string>()
  const env = new Proxy({}, { get (_target, key) { if (typeof key === 'string') read.add(key); return undefined } })
  loadConfig(env)
  return read
}

/** The `| \`NAME\` | default |` rows of the first table after `heading`. */
function table (file: string, heading: string): Map<string, string> {
  const text = readFileSync(file, 'utf8')
  const start = text.indexOf(`\n${heading}\n`)
  if (start < 0) throw new Error(`${file}: no "${heading}"`)
  const rows = new Map<string, string>()
  let inTable = false
  for (const line of text.slice(start + heading.length + 2).split('\n')) {
    const m = /^\| `([A-Z_]+)` \| ([^|]*) \|/.exec(line)
    if (m !== null) { rows.set(m[1] as string, (m[2] as string).trim()); inTable = true } else if (inTable && !line.startsWith('|')) break
  }
  return rows
}

const DOCS = [
  { file: 'README.md', heading: '## Configuration' },
  { file: 'docs/operations.md', heading: '## Environment' }
]

void t.test('the documented variables are exactly those the server reads', async t => {
  const read = [...variablesRead()].sort()
  t.ok(read.includes('HOST') && read.includes('FAULTLINE_TOKENS_FILE'), 'the recording sees reads')
  for (const d of DOCS) {
    const rows = table(resolve(d.file), d.heading)
    t.same([...rows.keys()].sort(), read, `${d.file} ${d.heading}`)
  }
})

void t.test('each documented default is the real one', async t => {
  const c = loadConfig({})
  const defaults: Record<string, string> = { HOST: c.host, LOG_LEVEL: c.logLevel, FAULTLINE_DATA_DIR: './data' }
  for (const [name, spec] of Object.entries(INTEGER_VARS)) defaults[name] = String(spec.def)
  // Derived from this machine's open-files limit: the docs say how, not a number.
  const MACHINE = 'FAULTLINE_MAX_CONNECTIONS'
  delete defaults[MACHINE]
  t.ok(c.dataDir.endsWith('/data'), 'the data directory defaults to ./data')
  t.equal(c.tokens.kind, 'generate', 'no token variable: one is generated')
  for (const d of DOCS) {
    const rows = table(resolve(d.file), d.heading)
    for (const [name, def] of Object.entries(defaults)) t.equal(rows.get(name), def, `${d.file}: ${name}`)
    t.match(rows.get(MACHINE), /ulimit -n/, `${d.file}: ${MACHINE} says where its default comes from`)
    for (const name of ['FAULTLINE_TOKEN', 'FAULTLINE_TOKENS_FILE']) t.match(rows.get(name), /^unset/, `${d.file}: ${name}`)
  }
})

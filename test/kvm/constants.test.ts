// Every number in src/kvm/constants.ts against the "Constants" table of docs/kvm-fidelity.md:
// the same names, the same values, and the kernel file named in the code is the table's.
import { readFileSync } from 'node:fs'
import t from 'tap'
import * as C from '../../src/kvm/constants.js'

const read = (rel: string): string => readFileSync(new URL(rel, import.meta.url), 'utf8')

/** The rows of the markdown table under "## Constants": name → { value, file }. */
function docTable (): Map<string, { value: bigint, file: string }> {
  const doc = read('../../docs/kvm-fidelity.md')
  const section = doc.split(/^## /m).find(s => s.startsWith('Constants'))
  if (section === undefined) throw new Error('docs/kvm-fidelity.md has no "## Constants" section')
  const rows = new Map<string, { value: bigint, file: string }>()
  for (const line of section.split('\n')) {
    const m = /^\| `(\w+)` \| (0x[0-9a-f]+|\d+) \| `([^`]+)` \|/.exec(line)
    if (m !== null) rows.set(m[1] as string, { value: BigInt(m[2] as string), file: m[3] as string })
  }
  return rows
}

/** name → the kernel file named by the nearest "// path" comment above it in constants.ts. */
function codeFiles (): Map<string, string> {
  const out = new Map<string, string>()
  let file = ''
  for (const line of read('../../src/kvm/constants.ts').split('\n')) {
    const h = /^\/\/ (\S+\.[ch])\b/.exec(line)
    if (h !== null) file = h[1] as string
    const m = /^export const (\w+) = /.exec(line)
    if (m !== null) out.set(m[1] as string, file)
  }
  return out
}

const numeric = (Object.entries(C) as Array<[string, unknown]>).filter((e): e is [string, number | bigint] => typeof e[1] === 'number' || typeof e[1] === 'bigint')
const table = docTable()
const files = codeFiles()

void t.test('the table and constants.ts name the same constants', async t => {
  t.same([...table.keys()].sort(), numeric.map(([k]) => k).sort())
})

void t.test('each value matches the table', async t => {
  for (const [name, value] of numeric) t.equal(BigInt(value), table.get(name)?.value, name)
})

void t.test('each constant names the kernel file it comes from, the one the table names', async t => {
  for (const [name] of numeric) {
    t.match(files.get(name), /^(include|arch)\/\S+\.[ch]$/, `${name} has a kernel file comment`)
    t.equal(files.get(name), table.get(name)?.file, name)
  }
})

void t.test('constants.ts imports nothing (other layers re-export it)', async t => {
  t.notMatch(read('../../src/kvm/constants.ts'), /^import /m)
})

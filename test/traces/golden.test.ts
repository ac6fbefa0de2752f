// The golden traces (traces/, written by `npm run traces`): there is one for every preset on
// every VM type it runs on, each line is a line of the format's JSON Schema, and each
// replays with no divergence. A change to the simulator's behaviour fails here; the files
// `npm run traces` then writes show it as a diff.
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { Compile } from 'typebox/compile'
import { PRESETS } from '../../src/kvm/program/presets/index.js'
import { GOLDEN_DIR, SCHEMA_FILE, goldenName, traceSchemaText } from '../../scripts/traces.js'
import { RECORDER } from '../../scripts/record-run.js'
import { lines, replay, setup } from './helpers.js'

const files = readdirSync(GOLDEN_DIR).filter(f => f.endsWith('.ndjson')).sort()

void t.test('a golden trace for every preset on every type it runs on, and nothing else', async t => {
  const want = PRESETS.flatMap(p => p.types.map(type => goldenName(p.name, type))).sort()
  t.same(files, want)
})

void t.test('schemas/trace.schema.json is the format\'s schema as schemas/trace.ts defines it', async t => {
  t.equal(readFileSync(SCHEMA_FILE, 'utf8'), traceSchemaText(), 'current: `npm run traces` writes it')
})

void t.test('every golden line is a line of the JSON Schema', async t => {
  const schema = Compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')))
  let n = 0
  for (const f of files) {
    for (const l of lines(readFileSync(`${GOLDEN_DIR}/${f}`, 'utf8'))) {
      if (!schema.Check(l)) t.fail(`${f}: ${JSON.stringify(l).slice(0, 200)}`)
      n++
    }
  }
  t.ok(n > files.length * 3, `${n} lines checked`)
})

void t.test('every golden trace replays with no divergence (decide=recorded)', async t => {
  const s = setup(t)
  for (const f of files) {
    const text = readFileSync(`${GOLDEN_DIR}/${f}`, 'utf8')
    const v = await replay(s, RECORDER, text, { decide: 'recorded', on_divergence: 'continue' })
    t.equal(v.state, 'passed', `${f}: ${JSON.stringify(v.divergences.slice(0, 2))}`)
    t.ok(v.exits.recorded > 0, `${f} has exits`)
    t.equal(v.exits.replayed, v.exits.recorded, `${f}: every exit replayed`)
    t.equal(v.decisions.compared, v.decisions.recorded, `${f}: every decision compared`)
  }
})

// `npm run traces`: writes the trace format's JSON Schema (schemas/trace.schema.json) and
// the golden traces, traces/<preset>.<type>.ndjson, one for every
// preset on every VM type it runs on (one vCPU, so the schedule is the program's own),
// decided by the built-in always-convert policy. test/traces/golden.test.ts replays each:
// a change to the simulator's behaviour fails it, and the regenerated files show the change
// as a diff in review. `npm run traces -- --check` only says whether they are current.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PRESETS } from '../src/kvm/program/presets/index.js'
import { TraceLine } from '../schemas/trace.js'
import { recordRun } from './record-run.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const GOLDEN_DIR = join(root, 'traces')
/** The trace format's JSON Schema, written from schemas/trace.ts. */
export const SCHEMA_FILE = join(root, 'schemas', 'trace.schema.json')
/** Exits a golden run may make before it is stopped (some presets loop for ever). */
export const GOLDEN_MAX_EXITS = 64

/** A golden file's name for a preset on a type. */
export function goldenName (preset: string, type: string): string {
  return `${preset}.${type}.ndjson`
}

/** The trace with what differs from run to run made fixed: the VM id and the creation time. */
export function normalize (trace: string, vm: string, preset: string, type: string): string {
  return trace.split(vm).join(`vm_golden-${preset}-${type}`.slice(0, 64))
    .replace(/"created_at":"[^"]*"/, '"created_at":"2026-01-01T00:00:00.000Z"')
    .replace(/"faultline":"[^"]*"/, '"faultline":"golden"')
}

export async function goldenTraces (): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const p of PRESETS) {
    for (const type of p.types) {
      const { trace, vm } = await recordRun({ body: { type, vcpus: 1, preset: p.name }, maxExits: GOLDEN_MAX_EXITS })
      out.set(goldenName(p.name, type), normalize(trace, vm, p.name, type))
    }
  }
  return out
}

/** The JSON Schema of a trace line, as schemas/trace.schema.json holds it. */
export function traceSchemaText (): string {
  return JSON.stringify(TraceLine, null, 2) + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check')
  mkdirSync(GOLDEN_DIR, { recursive: true })
  let stale = 0
  const files = new Map<string, string>([[SCHEMA_FILE, traceSchemaText()]])
  for (const [name, text] of await goldenTraces()) files.set(join(GOLDEN_DIR, name), text)
  for (const [file, text] of files) {
    const name = relative(root, file)
    let old: string | undefined
    try { old = readFileSync(file, 'utf8') } catch { old = undefined }
    if (old === text) continue
    stale++
    if (check) console.log(`${name}: differs from what faultline writes now`)
    else { writeFileSync(file, text); console.log(`wrote ${name}`) }
  }
  if (check && stale > 0) process.exit(1)
  console.log(stale === 0 ? 'the golden traces are current' : `${stale} golden trace${stale === 1 ? '' : 's'} ${check ? 'stale' : 'written'}`)
}

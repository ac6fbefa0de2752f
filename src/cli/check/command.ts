// `faultline check -- <controller command...>`: every case of cases.ts on every VM type it
// applies to, one after another; a graded table, the KVM rule behind each case, the failures
// in detail, JUnit with --junit. Exit code 0 when every run passed, 1 otherwise.
import { writeFileSync } from 'node:fs'
import type { Command } from '../args.js'
import { UsageError } from '../args.js'
import { formatTable } from '../format.js'
import { junitXml } from '../junit.js'
import type { JUnitCase } from '../junit.js'
import type { Output } from '../output.js'
import type { Session } from '../session.js'
import { CASES } from './cases.js'
import type { CheckCase } from './cases.js'
import { runCase } from './run.js'
import type { CaseResult } from './run.js'

export type CheckCommand = Extract<Command, { kind: 'check' }>

export interface CheckDeps {
  env: NodeJS.ProcessEnv
  /** How long a controller may take to end by itself after its VM ended (default 2000 ms). */
  graceMs?: number
  signal?: AbortSignal
  /** The cases to choose from (default: all of cases.ts). */
  cases?: readonly CheckCase[]
}

export function selectCases (all: readonly CheckCase[], names: readonly string[]): CheckCase[] {
  if (names.length === 0) return [...all]
  const unknown = names.filter((n) => !all.some((c) => c.name === n))
  if (unknown.length > 0) throw new UsageError(`no such case: ${unknown.join(', ')} (cases: ${all.map((c) => c.name).join(', ')})`)
  return all.filter((c) => names.includes(c.name))
}

const indent = (text: string, prefix: string): string => text.split('\n').map((l) => prefix + l).join('\n')

function junitCase (r: CaseResult): JUnitCase {
  const v = r.verdict
  return {
    name: `${r.check.name} on ${r.type}`,
    classname: `faultline.check.${r.check.name}`,
    ms: r.ms,
    failures: v.failure === undefined
      ? []
      : [{
          message: v.failure.message,
          type: 'conformance',
          text: [
            v.failure.exit !== undefined ? `at exit ${v.failure.exit}` : '',
            `controller did: ${v.did}`,
            `a correct VMM: ${v.correct}`,
            v.failure.why ?? ''
          ].filter((l) => l !== '').join('\n')
        }],
    systemOut: `controller: ${r.controllerEnded}\n${r.controllerOutput}`
  }
}

export async function runCheck (session: Session, command: CheckCommand, out: Output, deps: CheckDeps): Promise<number> {
  const cases = selectCases(deps.cases ?? CASES, command.cases)
  const p = out.paint
  const stream = session.client.stream({ exitBuffer: 0 })
  const results: CaseResult[] = []
  const started = new Date()
  try {
    for (const c of cases) {
      for (const type of c.types) {
        if (deps.signal?.aborted === true) break
        out.status(`running ${c.name} on ${type} ...`)
        const r = await runCase(c, type, {
          client: session.client,
          stream,
          url: session.url,
          token: session.token,
          command: command.controller,
          env: deps.env,
          timeoutMs: command.timeoutMs,
          graceMs: deps.graceMs ?? 2000,
          ...(deps.signal !== undefined ? { signal: deps.signal } : {})
        })
        results.push(r)
        if (out.json) {
          out.out(JSON.stringify({ case: c.name, type, pass: r.verdict.pass, did: r.verdict.did, correct: r.verdict.correct, ...(r.verdict.failure !== undefined ? { failure: r.verdict.failure } : {}), ms: Math.round(r.ms), controller: r.controllerEnded }))
        }
      }
    }
  } finally {
    out.endStatus()
    await stream.close()
  }

  const failed = results.filter((r) => !r.verdict.pass)
  if (!out.json) {
    out.out(formatTable([
      ['CASE', 'TYPE', 'CONTROLLER DID', 'CORRECT VMM', 'RESULT'],
      ...results.map((r) => [r.check.name, r.type, r.verdict.did, r.verdict.correct, r.verdict.pass ? p('pass', 'green') : p('FAIL', 'red')])
    ]))
    out.out('')
    out.out(p('why', 'bold'))
    for (const c of cases) {
      out.out(`${p(c.name, 'bold')}: ${c.title}`)
      for (const why of new Set(c.steps.map((s) => s.why))) out.out(`  - ${why}`)
    }
    for (const r of failed) {
      const f = r.verdict.failure
      out.out('')
      out.out(p(`FAIL ${r.check.name} on ${r.type}`, 'red') + (f?.exit !== undefined ? ` at exit ${f.exit}` : ''))
      out.out(`  ${f?.message ?? ''}`)
      if (f?.why !== undefined) out.out(`  why: ${f.why}`)
      out.out(`  controller: ${r.controllerEnded}`)
      const tail = r.controllerOutput.trimEnd().split('\n').slice(-10).join('\n')
      if (tail !== '') out.out(indent(tail, '  | '))
    }
    out.out('')
    out.out(p(`${results.length - failed.length} passed, ${failed.length} failed`, 'bold') + ` (${results.length} runs of ${cases.length} cases)`)
  }
  if (command.junit !== undefined) {
    writeFileSync(command.junit, junitXml({ name: 'faultline check', timestamp: started.toISOString(), cases: results.map(junitCase) }))
  }
  if (deps.signal?.aborted === true) return 130
  return failed.length === 0 && results.length > 0 ? 0 : 1
}

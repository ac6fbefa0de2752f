// `faultline test <trace|dir>... -- <controller command...>`: the CI runner. Each trace
// (a file, or every *.ndjson in a directory, by name) is replayed by the server on a new VM
// (POST /v1/replays); the controller under test is started with FAULTLINE_VM set to that VM
// and decides its exits; the replay is polled until it has passed, diverged, stopped or
// failed. One line per trace, totals, JUnit with --junit; exit code 0 only when every trace
// passed. With --decide recorded, the trace's own decisions are replayed and no controller runs.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { FaultlineApiError } from '../client/errors.js'
import type { ReplayDivergence, ReplayView } from '../client/types.js'
import type { Command } from './args.js'
import { UsageError } from './args.js'
import { startController } from './child.js'
import type { ControllerProcess } from './child.js'
import { junitXml } from './junit.js'
import type { JUnitCase } from './junit.js'
import type { Output } from './output.js'
import type { Session } from './session.js'

export type TestCommand = Extract<Command, { kind: 'test' }>

const FINAL = new Set(['passed', 'diverged', 'stopped', 'failed'])

export interface TestDeps {
  env: NodeJS.ProcessEnv
  /** Between two GET /v1/replays/{id} (default 100 ms). */
  pollMs?: number
  /** How long the controller may take to end by itself after its replay ended (default 2000 ms). */
  graceMs?: number
  signal?: AbortSignal
}

export interface TraceResult {
  file: string
  ms: number
  /** The replay's last view, when the server took the trace. */
  view?: ReplayView
  /** Why there is no verdict: the server refused the trace, the time ran out, the controller ended. */
  error?: string
  controllerEnded?: string
  controllerOutput?: string
}

/** The traces named: files as given, directories by their *.ndjson files in name order. */
export function traceFiles (paths: readonly string[]): string[] {
  const files: string[] = []
  for (const path of paths) {
    let isDir: boolean
    try { isDir = statSync(path).isDirectory() } catch { throw new UsageError(`no such trace file or directory: ${path}`) }
    if (!isDir) { files.push(path); continue }
    const inDir = readdirSync(path).filter((f) => f.endsWith('.ndjson')).sort().map((f) => join(path, f))
    if (inDir.length === 0) throw new UsageError(`${path} holds no *.ndjson trace`)
    files.push(...inDir)
  }
  return files
}

const passed = (r: TraceResult): boolean => r.error === undefined && r.view?.state === 'passed'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function replayOne (session: Session, file: string, command: TestCommand, deps: TestDeps): Promise<TraceResult> {
  const started = performance.now()
  const result = (r: Omit<TraceResult, 'file' | 'ms'>): TraceResult => ({ file, ms: performance.now() - started, ...r })
  let view: ReplayView
  try {
    view = await session.client.createReplay(readFileSync(file, 'utf8'), { decide: command.decide, on_divergence: command.onDivergence })
  } catch (e) {
    if (!(e instanceof FaultlineApiError) || e.statusCode >= 500) throw e
    // The server's messages name the line already ("line 4: ..."); others get it added.
    const line = e.line === undefined || e.message.startsWith(`line ${e.line}:`) ? '' : ` (line ${e.line})`
    return result({ error: `the server refused the trace: ${e.code}: ${e.message}${line}` })
  }
  let controller: ControllerProcess | undefined
  if (command.decide === 'controller') {
    controller = startController(command.controller, {
      ...deps.env, FAULTLINE_URL: session.url, FAULTLINE_VM: view.vm, ...(session.token !== undefined ? { FAULTLINE_TOKEN: session.token } : {})
    })
  }
  const deadline = performance.now() + command.timeoutMs
  let error: string | undefined
  // The controller may end before the server has seen its last decision: one more look after that.
  let lastLook = false
  let controllerEnded: string | undefined
  try {
    for (;;) {
      if (FINAL.has(view.state)) break
      if (deps.signal?.aborted === true) { error = 'interrupted'; break }
      if (performance.now() >= deadline) { error = `not finished after ${command.timeoutMs} ms (state ${view.state})`; break }
      if (controller?.endedAs !== undefined) {
        if (lastLook) { error = `the controller ended (${controller.endedAs}) before the replay finished (state ${view.state})`; break }
        lastLook = true
      }
      await sleep(deps.pollMs ?? 100)
      view = await session.client.getReplay(view.id)
    }
  } finally {
    controllerEnded = await controller?.stop(error === undefined ? deps.graceMs ?? 2000 : 0)
    // As check does: the replay's VM goes (which also stops a replay still running), so
    // traces run against a shared server do not fill the tenant's VMs. Its view stays.
    await session.client.deleteVm(view.vm).catch(() => {})
  }
  return result({
    view,
    ...(error !== undefined ? { error } : {}),
    ...(controller !== undefined ? { controllerEnded: controllerEnded ?? '', controllerOutput: controller.output() } : {})
  })
}

const json = (v: unknown): string => JSON.stringify(v) ?? 'undefined'

/**
 * Where a divergence is: its exit (a state change has none), then the trace line and the
 * recorded seq (an output the recording does not have has none).
 */
function divergencePlace (d: ReplayDivergence): string {
  const what = d.exit === null ? 'a state change' : `exit #${d.exit}`
  const seq = d.seq === null ? 'not in the recording' : `seq ${d.seq}`
  return `${d.kind} at ${what} (line ${d.line}, ${seq})`
}

function describeDivergence (d: ReplayDivergence): string {
  return `${divergencePlace(d)}: recorded ${json(d.recorded)}, actual ${json(d.actual)}`
}

function verdictWord (r: TraceResult): string {
  if (r.error !== undefined) return 'ERROR'
  return r.view?.state === 'passed' ? 'PASS' : (r.view?.state ?? 'ERROR').toUpperCase()
}

function junitCase (r: TraceResult): JUnitCase {
  const v = r.view
  const c: JUnitCase = {
    name: basename(r.file),
    classname: 'faultline.test',
    ms: r.ms,
    failures: (v?.divergences ?? []).map((d) => ({
      message: divergencePlace(d),
      type: d.kind,
      text: `recorded: ${json(d.recorded)}\nactual: ${json(d.actual)}`
    }))
  }
  if (r.error !== undefined) c.error = { message: r.error }
  else if (v !== undefined && v.state !== 'passed' && v.divergences.length === 0) c.error = { message: `the replay ${v.state}${v.error !== null ? `: ${v.error}` : ''}` }
  if (r.controllerOutput !== undefined) c.systemOut = `controller: ${r.controllerEnded ?? ''}\n${r.controllerOutput}`
  return c
}

export async function runTest (session: Session, command: TestCommand, out: Output, deps: TestDeps): Promise<number> {
  const files = traceFiles(command.traces)
  const p = out.paint
  const results: TraceResult[] = []
  const started = new Date()
  for (const file of files) {
    if (deps.signal?.aborted === true) break
    out.status(`replaying ${file} ...`)
    const r = await replayOne(session, file, command, deps)
    results.push(r)
    out.endStatus()
    const v = r.view
    if (out.json) {
      out.out(JSON.stringify({
        file,
        pass: passed(r),
        ...(v !== undefined ? { replay: v } : {}),
        ...(r.error !== undefined ? { error: r.error } : {}),
        ...(r.controllerEnded !== undefined ? { controller: r.controllerEnded } : {}),
        ms: Math.round(r.ms)
      }))
      continue
    }
    const counts = v === undefined ? '' : `  exits ${v.exits.replayed}/${v.exits.recorded}, decisions ${v.decisions.compared}/${v.decisions.recorded}`
    const word = verdictWord(r)
    out.out(`${p(word.padEnd(8), passed(r) ? 'green' : 'red')} ${file}${counts}  ${(r.ms / 1000).toFixed(1)} s`)
    for (const d of v?.divergences ?? []) out.out(`         ${describeDivergence(d)}`)
    if (r.error !== undefined) out.out(`         ${r.error}`)
    else if (v?.error !== undefined && v.error !== null) out.out(`         ${v.error}`)
    if (!passed(r) && r.controllerOutput !== undefined && r.controllerOutput.trim() !== '') {
      out.out(`         controller: ${r.controllerEnded ?? ''}`)
      for (const line of r.controllerOutput.trimEnd().split('\n').slice(-10)) out.out(`         | ${line}`)
    }
  }
  const ok = results.filter(passed).length
  const diverged = results.filter((r) => r.error === undefined && (r.view?.divergences.length ?? 0) > 0).length
  if (!out.json) out.out(p(`${results.length} traces: ${ok} passed, ${diverged} diverged, ${results.length - ok - diverged} failed`, 'bold'))
  if (command.junit !== undefined) {
    writeFileSync(command.junit, junitXml({ name: 'faultline test', timestamp: started.toISOString(), cases: results.map(junitCase) }))
  }
  if (deps.signal?.aborted === true) return 130
  return ok === results.length && results.length === files.length ? 0 : 1
}

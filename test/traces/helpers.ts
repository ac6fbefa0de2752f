// Replays for tests: a Control with traces on, and a wait until a replay has finished.
import { Control } from '../../src/control/index.js'
import type { Clock, Limits } from '../../src/control/index.js'
import type { Principal } from '../../src/auth/types.js'
import { Traces } from '../../src/traces/service.js'
import type { ReplayQuery, ReplayView } from '../../schemas/trace.js'

export interface Setup { control: Control, traces: Traces }

export function setup (t: { teardown (fn: () => unknown): void }, limits: Partial<Limits> = {}, clock?: Clock): Setup {
  const control = new Control({ limits, ...(clock !== undefined ? { clock } : {}) })
  const traces = new Traces(control, { version: 'test' })
  t.teardown(() => { traces.close(); control.close() })
  return { control, traces }
}

/** Turns of the event loop until the replay is final (bounded: a replay that hangs fails). */
export async function finished (s: Setup, p: Principal, id: string, turns = 20_000): Promise<ReplayView> {
  for (let i = 0; i < turns; i++) {
    const v = s.traces.get(p, id)
    if (v.finished_at !== null) return v
    await new Promise(resolve => setImmediate(resolve))
  }
  throw new Error(`replay ${id} did not finish: ${JSON.stringify(s.traces.get(p, id))}`)
}

export async function replay (s: Setup, p: Principal, text: string, q: ReplayQuery = {}): Promise<ReplayView> {
  return await finished(s, p, s.traces.create(p, text, q).id)
}

/** Every line of a trace, parsed. */
export function lines (text: string): Array<Record<string, unknown>> {
  return text.trimEnd().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
}

/** A trace from lines (the end line's count kept right). */
export function text (ls: Array<Record<string, unknown>>): string {
  const out = ls.map(l => l.t === 'end' ? { ...l, lines: ls.length - 1 } : l)
  return out.map(l => JSON.stringify(l)).join('\n') + '\n'
}

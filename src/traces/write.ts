// A trace's lines as text: one JSON object a line, the header first and the end line last
// (docs/traces.md). An exit line embeds the exit's frame as the stream sent it, unparsed.
import type { StreamVmState } from '../../schemas/common.js'
import type { TraceHeader } from '../../schemas/trace.js'
import type { TraceEntry } from './journal.js'

export function entryLine (e: TraceEntry): string {
  switch (e.k) {
    case 'run': return e.n === 1
      ? `{"t":"input","op":"run","vcpu":${e.vcpu},"budget":${e.budget}}`
      : `{"t":"input","op":"run","vcpu":${e.vcpu},"budget":${e.budget},"n":${e.n}}`
    case 'input': return JSON.stringify({ t: 'input', ...e.i })
    case 'exit': return `{"t":"exit","seq":${e.seq},"exit":${e.frame}}`
    case 'decision': {
      const line: Record<string, unknown> = { t: 'decision', seq: e.seq, exit: e.exit, action: e.d.action }
      if (e.d.ret !== undefined) line.ret = e.d.ret
      if (e.d.data !== undefined) line.data = e.d.data
      if (e.d.inject !== undefined) line.inject = e.d.inject
      line.by = e.by
      if (e.reason !== undefined) line.reason = e.reason
      return JSON.stringify(line)
    }
    case 'state': return JSON.stringify({ t: 'state', seq: e.seq, state: e.state, reason: e.reason })
  }
}

/**
 * The whole trace, in chunks of about `chunk` characters (a response streams them):
 * header, kept lines, end line.
 */
export function * traceText (header: TraceHeader, entries: TraceEntry[], end: { seq: number, state: StreamVmState }, chunk = 64 * 1024): Generator<string> {
  let buf = JSON.stringify(header) + '\n'
  for (const e of entries) {
    buf += entryLine(e) + '\n'
    if (buf.length >= chunk) { yield buf; buf = '' }
  }
  buf += JSON.stringify({ t: 'end', lines: entries.length + 1, seq: end.seq, state: end.state }) + '\n'
  yield buf
}

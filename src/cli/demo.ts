// `npm run demo`: the whole loop in one process. A faultline server on 127.0.0.1 (ephemeral
// port, a fresh admin token), a TDX VM running the tdx-boot preset, and this package's own
// client as its controller with the always-convert policy, over the real WebSocket. Shows a
// live progress line, then a summary: decisions by reason and action, the memory map as a
// bar of private/shared extents, and the decision round-trip latency. Bounded: it stops when
// the VM stops, or after the time limit.
import { localServer } from '../local-server.js'
import { VERSION } from '../version.js'
import { FaultlineClient } from '../client/client.js'
import type { AttributeExtent, VmInfo } from '../client/types.js'
import { runController } from './controller.js'
import { formatBytes, formatStateLine, formatTable, wantsColour } from './format.js'
import { formatMemoryMap, memoryTotals, slotSpan } from './memory-bar.js'
import type { Output } from './output.js'
import { terminalOutput } from './output.js'
import { alwaysConvert } from './policies.js'
import { withRepeatGuard } from './repeat-guard.js'
import { percentile, Tally } from './tally.js'

export interface DemoOptions {
  preset?: string
  vcpus?: number
  /** Stop after this long even if the VM still runs. */
  timeLimitMs?: number
  out?: Output
}

export interface DemoResult {
  vm: VmInfo
  tally: Tally
  finalState: string
  timedOut: boolean
}

const fmtMs = (ms: number): string => Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1)

export function progressLine (tally: Tally, elapsedMs: number): string {
  const reasons = [...tally.exitsByReason].map(([r, n]) => `${r} ${n}`).join(', ')
  return `exits decided ${tally.decided}${reasons !== '' ? ` (${reasons})` : ''} | conversions ${tally.conversions} | ${(elapsedMs / 1000).toFixed(1)} s`
}

export function summaryTable (tally: Tally): string {
  const rows = [...tally.decisionsByReason].sort((a, b) => b[1] - a[1]).map(([key, n]) => {
    const [reason = '', action = ''] = key.split(' ')
    return [reason, action, String(n)]
  })
  return formatTable([['EXIT', 'ACTION', 'COUNT'], ...rows])
}

export async function runDemo (opts: DemoOptions = {}): Promise<DemoResult> {
  const tty = process.stdout.isTTY === true
  const out = opts.out ?? terminalOutput({ colour: wantsColour(tty, process.env), json: false, tty })
  const p = out.paint
  // The demo's own server: quiet, and never shedding (it is the only client).
  const server = await localServer({ settings: { rateLimitPerMinute: 0, maxEventLoopDelayMs: 0 } })
  const { url, token, app } = server
  const client = new FaultlineClient({ url, token })
  const stream = client.stream()
  try {
    out.out(p(`faultline ${VERSION} demo`, 'bold') + p(` (server on ${url})`, 'dim'))
    const preset = opts.preset ?? 'tdx-boot'
    const created = await client.createVm({ name: 'demo', type: 'tdx', vcpus: opts.vcpus ?? 4, preset, seed: 1 })
    out.out(`created ${created.id}: ${created.type}, ${created.vcpus} vCPUs, preset ${preset}, ` +
      `${formatBytes(created.memslots.reduce((n, s) => n + s.size, 0))} in ${created.memslots.length} memslot(s)`)

    const tally = new Tally()
    const started = performance.now()
    const abort = new AbortController()
    const limit = setTimeout(() => abort.abort(), opts.timeLimitMs ?? 30_000)
    const ticker = setInterval(() => out.status(progressLine(tally, performance.now() - started)), 100)
    let lastPrinted = 0
    // The map at its most shared: sampled while the guest does I/O through its shared buffers
    // (at the end a well-behaved guest has made them private again).
    const span = slotSpan(created.memslots)
    let peak: { extents: AttributeExtent[], shared: number } | undefined
    let sampling: Promise<void> | undefined
    const sample = (): void => {
      if (span === undefined || sampling !== undefined) return
      sampling = client.memoryAttributes(created.id, span.gpa, span.size).then((extents) => {
        const shared = memoryTotals(extents, span).shared
        if (peak === undefined || shared > peak.shared) peak = { extents, shared }
      }, () => {}).finally(() => { sampling = undefined })
    }
    const end = await runController({
      client,
      stream,
      vm: created.id,
      policy: withRepeatGuard(alwaysConvert),
      signal: abort.signal,
      onSubscribed: async () => { await client.action(created.id, 'start') },
      onExit: (exit) => { tally.exit(exit) },
      onDecision: (exit, decision, outcome) => {
        if (!outcome.ok) {
          out.err(p(`exit #${exit.exit}: ${decision.action} refused: ${outcome.error.code}`, 'red'))
          return
        }
        tally.decidedEvent({ vm: exit.vm, exit: exit.exit, action: decision.action })
        tally.roundTrip(outcome.ms)
        if (exit.reason === 'KVM_EXIT_IO') sample()
        // Without a terminal to redraw, a progress line a second at most.
        const now = performance.now()
        if (!out.tty && now - lastPrinted >= 1000) { lastPrinted = now; out.out(progressLine(tally, now - started)) }
      },
      onState: (s) => { tally.stateEvent(s); out.out(formatStateLine(s, new Date(), p)) }
    })
    clearInterval(ticker)
    clearTimeout(limit)
    await sampling
    if (out.tty) out.status(progressLine(tally, performance.now() - started))
    else out.out(progressLine(tally, performance.now() - started))
    out.endStatus()
    const timedOut = end.reason === 'aborted'
    if (timedOut) {
      out.out(p(`time limit reached: killing ${created.id}`, 'yellow'))
      await client.action(created.id, 'kill').catch(() => {})
    }

    const vm = await client.getVm(created.id)
    out.out('')
    out.out(p('decisions by exit reason and action', 'bold'))
    out.out(summaryTable(tally))
    out.out('')
    if (span !== undefined) {
      if (peak !== undefined && peak.shared > 0) {
        out.out(p('memory map during I/O, at its most shared (GET memory/attributes)', 'bold'))
        out.out(formatMemoryMap(peak.extents, span, p))
        out.out('')
      }
      out.out(p('memory map at the end', 'bold'))
      out.out(formatMemoryMap(await client.memoryAttributes(vm.id, span.gpa, span.size), span, p))
      out.out('')
    }
    out.out(p('decision round trip', 'bold') +
      `  p50 ${fmtMs(percentile(tally.roundTripsMs, 50))} ms  p99 ${fmtMs(percentile(tally.roundTripsMs, 99))} ms  (${tally.roundTripsMs.length} decisions)`)
    out.out(`${vm.id} is ${p(vm.state, 'bold')}${vm.state_reason !== undefined && vm.state_reason !== '' ? ` (${vm.state_reason})` : ''} after ` +
      `${((performance.now() - started) / 1000).toFixed(2)} s`)
    return { vm, tally, finalState: vm.state, timedOut }
  } finally {
    await stream.close()
    await app.close()
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  runDemo().then(() => { process.exitCode = 0 }, (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exitCode = 1
  })
}

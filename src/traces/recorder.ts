// Records every VM's trace (control.record): each input to its core and each event, in the
// order they happened, into a bounded journal per VM (journal.ts). A decision is one line,
// made from the core's decision (an input) and its `decided` event (seq, who). A replay
// taps the lines of the VM it drives as they are made.
import type { CoreInput, VmRecorder } from '../control/index.js'
import type { VmRecord } from '../control/record.js'
import type { ControlEvent } from '../control/types.js'
import type { TraceHeader, TraceVm } from '../../schemas/trace.js'
import { TRACE_FORMAT } from '../../schemas/trace.js'
import { DEFAULT_KVM_ABI } from '../kvm/index.js'
import { TraceJournal } from './journal.js'
import type { FlatDecision, TraceEntry } from './journal.js'
import { traceText } from './write.js'

/** Sees the output lines (exits, decisions, states) of one VM as they are made. */
export type TraceTap = (e: Exclude<TraceEntry, { k: 'run' | 'input' }>) => void

export class TraceRecorder implements VmRecorder {
  private readonly journals = new Map<string, TraceJournal>()
  private readonly taps = new Map<string, TraceTap>()

  constructor (private readonly version: string) {}

  input (rec: VmRecord, i: CoreInput): void {
    const j = this.journal(rec)
    switch (i.op) {
      case 'run': j.run(i.vcpu, i.budget); return
      case 'decide': j.decisions.put(i.exit, i.decision as FlatDecision); return
      default: j.push({ k: 'input', i }, 120, false)
    }
  }

  event (rec: VmRecord, e: ControlEvent): void {
    if (e.deleted === true) {
      this.taps.get(rec.id)?.({ k: 'state', seq: e.seq, state: 'deleted', reason: 'deleted' })
      this.journals.delete(rec.id)
      this.taps.delete(rec.id)
      return
    }
    const j = this.journal(rec)
    let entry: Exclude<TraceEntry, { k: 'run' | 'input' }>
    if (e.type === 'exit') {
      entry = { k: 'exit', seq: e.seq, exit: e.exit as number, frame: e.frame }
      j.push(entry, e.frame.length + 24, true)
    } else if (e.type === 'decided') {
      const exit = e.exit as number
      const made = rec.exits.get(exit)?.decision
      const d: FlatDecision = j.decisions.take(exit) ?? { action: made?.action ?? 'kill' }
      entry = { k: 'decision', seq: e.seq, exit, d, by: made?.by ?? 'controller', reason: made?.reason }
      j.push(entry, 100 + (d.data?.length ?? 0) * 11 + (made?.reason?.length ?? 0), true)
    } else {
      entry = { k: 'state', seq: e.seq, state: rec.state, reason: rec.state_reason }
      j.push(entry, 60 + rec.state_reason.length, true)
    }
    this.taps.get(rec.id)?.(entry)
  }

  /** The journal shares shrank (a new VM): every trace is cut to its share now. */
  shrink (): void {
    for (const j of this.journals.values()) j.trim()
  }

  /** A VM back from the store: its trace starts here, cut (its history before is not kept). */
  recovered (rec: VmRecord): void {
    this.journal(rec, false)
  }

  /** The VM's trace so far as NDJSON chunks; undefined when none is kept. */
  trace (rec: Pick<VmRecord, 'id' | 'seq' | 'state'>): Generator<string> | undefined {
    const j = this.journals.get(rec.id)
    if (j === undefined) return undefined
    const cut = j.dropped === 0 ? null : { first_seq: j.firstSeq(), dropped: j.dropped }
    return traceText({ ...j.header, cut }, j.kept(), { seq: rec.seq, state: rec.state })
  }

  /** Hands the VM's output lines to `tap` as they are made (one tap per VM); returns the untap. */
  tap (vm: string, tap: TraceTap): () => void {
    this.taps.set(vm, tap)
    return () => { if (this.taps.get(vm) === tap) this.taps.delete(vm) }
  }

  private journal (rec: VmRecord, fresh = true): TraceJournal {
    let j = this.journals.get(rec.id)
    if (j === undefined) {
      // A VM first seen at its `created` event (seq 1) is recorded from creation.
      j = new TraceJournal(header(rec, this.version), rec.caps, fresh && rec.seq === 1 && rec.state === 'created')
      this.journals.set(rec.id, j)
    }
    return j
  }
}

/** The header of a VM's trace: its definition as made, and who recorded it. */
export function header (rec: VmRecord, version: string): TraceHeader {
  const c = rec.config
  const vm: TraceVm = {
    id: rec.id,
    name: rec.name,
    type: c.type,
    vcpus: c.vcpus,
    memslots: c.memslots.map(s => ({ slot: s.slot, gpa: s.gpa, size: s.size, guest_memfd: s.guest_memfd })),
    initial_attributes: c.initial_attributes,
    kvm_abi: c.kvm_abi ?? DEFAULT_KVM_ABI,
    seed: c.seed,
    preset: rec.preset,
    policy: { decision_timeout_ms: rec.policy.decision_timeout_ms, on_timeout: rec.policy.on_timeout, rules: rec.policy.rules.map(r => ({ ...r })) }
  }
  if (c.type === 'tdx') vm.gpaw = c.gpaw as 48 | 52
  // A preset's program is named, not copied: a replay takes the preset's program as it now
  // is, so that a changed preset shows up as a divergence.
  if (rec.preset === null) vm.program = c.program as unknown as TraceVm['program']
  return { t: 'header', format: TRACE_FORMAT, faultline: version, vm, created_at: new Date(rec.created_at).toISOString(), cut: null }
}

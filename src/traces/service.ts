// Traces and replays behind one object for the routes: it records every VM's trace from the
// moment it is made (control.record), answers GET .../trace, and makes and keeps replays,
// tenant-scoped as VMs are. Client decisions on a replay VM pass its replay first.
import { randomBytes } from 'node:crypto'
import type { Principal } from '../auth/types.js'
import { canChange } from '../auth/roles.js'
import type { Control, DecideInput } from '../control/control.js'
import type { VmRecord } from '../control/record.js'
import type { CreateVmInput } from '../control/types.js'
import { FaultlineError, asFaultlineError } from '../errors.js'
import { statusOf } from '../../schemas/errors.js'
import type { DecidedBy } from '../../schemas/common.js'
import type { ReplayQuery, ReplayView, TraceHeader } from '../../schemas/trace.js'
import { parseTrace, parseTraceInTurns, TraceError } from './read.js'
import type { ParsedTrace } from './read.js'
import { TICK_MS } from '../control/scheduler.js'
import { TraceRecorder } from './recorder.js'
import { ReplayPump } from './pump.js'
import { Replay } from './replay.js'

export interface TracesOptions {
  version: string
  now?: () => number
}

export class Traces {
  readonly recorder: TraceRecorder
  private readonly replays = new Map<string, Replay>()
  private readonly byVm = new Map<string, Replay>()
  /** Every replay's work, shared fairly across tenants (pump.ts). */
  private readonly pump = new ReplayPump()
  private readonly now: () => number
  private closed = false

  constructor (private readonly control: Control, opts: TracesOptions) {
    this.now = opts.now ?? Date.now
    // A VM's trace keeps as much as its journal: its share of the journal budget.
    this.recorder = new TraceRecorder(opts.version)
    control.record(this.recorder)
    control.gateDecisions((rec, exit, d, by) => this.gate(rec, exit, d, by))
  }

  /** The VM's trace so far, as NDJSON chunks (tenant-scoped as GET /v1/vms/{vm}). */
  trace (principal: Principal, vm: string): Generator<string> {
    const view = this.control.getVm(principal, vm)
    const out = this.recorder.trace(view)
    // Every VM has one (made since the recorder was added, or adopted from the store).
    if (out === undefined) throw new FaultlineError('VM_NOT_FOUND', `no trace of VM ${vm} is kept`)
    return out
  }

  /** Makes the trace's VM again and starts replaying it; refused traces name their line. */
  create (principal: Principal, text: string | Buffer, q: ReplayQuery = {}): ReplayView {
    mayReplay(principal)
    return this.start(principal, parseTrace(text), q)
  }

  /**
   * create(), the trace checked a TICK_MS slice at a time between the server's other work
   * (POST /v1/replays): a 32 MiB trace takes about a second to check.
   */
  async createInTurns (principal: Principal, text: string | Buffer, q: ReplayQuery = {}): Promise<ReplayView> {
    mayReplay(principal)
    const trace = await parseTraceInTurns(text, TICK_MS)
    if (this.closed) throw new FaultlineError('NOT_READY', 'the server is closing')
    return this.start(principal, trace, q)
  }

  private start (principal: Principal, trace: ParsedTrace, q: ReplayQuery): ReplayView {
    if (trace.header.cut !== null) {
      throw new TraceError('TRACE_INCOMPLETE', `the journal had dropped the trace's head (first seq kept: ${trace.header.cut.first_seq ?? 'none'}): it cannot be replayed from the VM's creation`, 1)
    }
    let rec: VmRecord
    try {
      rec = this.control.createDrivenVm(principal, createBody(trace.header, q.name))
    } catch (e) {
      const err = asFaultlineError(e)
      // A definition this server cannot make is the header's fault; a full tenant is not.
      if (statusOf(err.code) === 400) throw new TraceError(err.code, err.message, 1)
      throw e
    }
    const id = 'rp_' + randomBytes(9).toString('base64url')
    const replay = new Replay(this.control, rec, trace, {
      id,
      principal,
      decide: q.decide ?? 'controller',
      onDivergence: q.on_divergence ?? 'stop',
      now: this.now,
      wake: (r) => { this.pump.wake(r) }
    }, (r) => { this.byVm.delete(r.rec.id); untap() })
    this.forgetOldest(principal.tenant)
    this.replays.set(id, replay)
    this.byVm.set(rec.id, replay)
    const untap = this.recorder.tap(rec.id, (e) => {
      if (e.k === 'state' && e.state === 'deleted') replay.stop(`VM ${rec.id} was deleted`)
      else replay.output(e)
    })
    // The `created` state was made before the tap: the replay compares it all the same.
    replay.output({ k: 'state', seq: 1, state: 'created', reason: 'created' })
    replay.start()
    return replay.view()
  }

  get (principal: Principal, id: string): ReplayView {
    return this.find(principal, id).view()
  }

  /** The caller's replays (every tenant's for an admin), oldest first. */
  list (principal: Principal): ReplayView[] {
    return [...this.replays.values()].filter(r => visible(principal, r)).map(r => r.view())
  }

  /** Stops the replay if it runs and forgets it; its VM stays. */
  delete (principal: Principal, id: string): void {
    const r = this.find(principal, id)
    if (!canChange(principal)) throw new FaultlineError('FORBIDDEN', 'this token may not delete replays')
    r.stop('deleted')
    this.replays.delete(id)
  }

  /** Stops every replay (the app closes). */
  close (): void {
    this.closed = true
    for (const r of this.replays.values()) r.stop('the server is closing')
    this.pump.close()
  }

  /**
   * Keeps a tenant's finished replays to FAULTLINE_MAX_VMS_PER_TENANT: the oldest finished
   * one is forgotten to make room (running ones are bounded by the VMs they drive).
   */
  private forgetOldest (tenant: string): void {
    const finished = [...this.replays.values()].filter(r => r.opts.principal.tenant === tenant && r.finished)
    if (finished.length >= this.control.limits.maxVmsPerTenant) this.replays.delete((finished[0] as Replay).id)
  }

  private find (principal: Principal, id: string): Replay {
    const r = this.replays.get(id)
    if (r === undefined || !visible(principal, r)) throw new FaultlineError('REPLAY_NOT_FOUND', `no replay ${id}`)
    return r
  }

  private gate (rec: VmRecord, exit: number, d: DecideInput, by: DecidedBy): boolean {
    return this.byVm.get(rec.id)?.gate(exit, d, by) ?? false
  }
}

function mayReplay (p: Principal): void {
  if (!canChange(p)) throw new FaultlineError('FORBIDDEN', 'this token may not replay traces')
}

function visible (p: Principal, r: Replay): boolean {
  return p.role === 'admin' || p.tenant === r.opts.principal.tenant
}

/** POST /v1/vms's body for the trace's VM; its decision timeout is off (docs/traces.md). */
function createBody (h: TraceHeader, name: string | undefined): CreateVmInput {
  const v = h.vm
  const body: CreateVmInput = {
    type: v.type,
    vcpus: v.vcpus,
    memory: { slots: v.memslots.map(s => ({ ...s })) },
    initial_attributes: v.initial_attributes,
    seed: v.seed,
    kvm_abi: v.kvm_abi,
    policy: { decision_timeout_ms: null, on_timeout: v.policy.on_timeout, rules: v.policy.rules.map(r => ({ ...r })) }
  }
  if (v.gpaw !== undefined) body.gpaw = v.gpaw
  if (v.preset !== null) body.preset = v.preset
  if (v.program !== undefined) body.program = v.program
  if (name !== undefined) body.name = name
  return body
}

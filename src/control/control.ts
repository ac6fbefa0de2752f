// The single owner of every VM: registry, lifecycle, pending exits, decisions (each applied
// once, whoever sends it), rules and timeouts, and the per-VM event sequence and journal.
// Routes and the stream call these methods; each one is a typed command.
import { randomBytes } from 'node:crypto'
import { Vm, isTerminalSystemEvent } from '../kvm/index.js'
import { getPreset } from '../kvm/program/presets.js'
import { validateProgram } from '../kvm/program/validate.js'
import type {
  AttributeExtent, BackingExtent, Decision, ExitRecord, MemoryAttributes, MemslotConfig, VcpuInfo, VmConfig
} from '../kvm/types.js'
import { KvmError } from '../kvm/types.js'
import type { Program } from '../kvm/program/types.js'
import type { Principal } from '../auth/types.js'
import { canChange } from '../auth/roles.js'
import {
  ExitNotPending, Forbidden, InvalidConfig, InvalidTransition, LimitExceeded, NameTaken, SeqExpired,
  TooManyVms, UnknownPreset, Validation, VcpuNotFound, VmNotFound, translate
} from '../errors.js'
import { EventBus } from './bus.js'
import { decidedFrame, exitMessage, stateFrame } from './frames.js'
import { EventJournal } from './journal.js'
import { ExitLog } from './exit-log.js'
import { nextState } from './lifecycle.js'
import { decisionOf, firstMatch, normalizePolicy, ruleDecision } from './policy.js'
import type { ExitEntry, VmRecord } from './record.js'
import { systemEventName } from './system-events.js'
import { DEFAULT_LIMITS, realClock } from './types.js'
import type {
  Clock, ControlEvent, ControlLogger, CreateVmInput, DecidedBy, EventFilter, EventListener, ExitView,
  Limits, Page, VmAction, VmCounters, VmState, VmView
} from './types.js'

export interface ControlOptions {
  limits?: Partial<Limits>
  clock?: Clock
  logger?: ControlLogger
}

export interface ListQuery { limit?: number, cursor?: string }
export interface ExitsQuery { since?: number, limit?: number, pending?: boolean }
/** A decision as REST and the stream send it: the core's Decision plus a free-text reason. */
export type DecideInput = Decision & { reason?: string }

const MIB = 1024 * 1024
/** Scheduler slices per macrotask: enough to keep vCPUs busy, few enough to keep I/O served. */
const SLICES_PER_TICK = 32

export class Control {
  readonly limits: Limits
  private readonly clock: Clock
  private readonly logger: ControlLogger | undefined
  private readonly bus: EventBus
  private readonly vms = new Map<string, VmRecord>()
  /** VMs in state running, in the order the scheduler visits them. */
  private readonly running = new Set<VmRecord>()
  /** The running VMs as one scheduler pass visits them, refilled per pass (no allocation). */
  private readonly order: VmRecord[] = []
  private ord = 0
  private scheduled = false
  private closed = false

  constructor (opts: ControlOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits }
    this.clock = opts.clock ?? realClock
    this.logger = opts.logger
    this.bus = new EventBus(this.logger)
  }

  // ---- events -------------------------------------------------------------------------

  /** Synchronous delivery, in seq order per VM; returns the unsubscribe function. */
  subscribe (filter: EventFilter, listener: EventListener): () => void {
    return this.bus.subscribe(filter, listener)
  }

  /** The VM's events with seq > since, oldest first; SEQ_EXPIRED when not all are kept. */
  replay (principal: Principal, vm: string, since: number): ControlEvent[] {
    const rec = this.find(principal, vm)
    const out = rec.journal.after(since, rec.seq)
    if (out === null) throw new SeqExpired(`events after seq ${since} of ${vm} are no longer kept (oldest kept: ${rec.journal.oldestSeq ?? 'none'})`)
    return out
  }

  /** The exit events still waiting for a decision, oldest first. */
  pendingExitEvents (principal: Principal, vm: string): ControlEvent[] {
    const rec = this.find(principal, vm)
    const out: ControlEvent[] = []
    for (const id of rec.pending.keys()) {
      const e = rec.exits.get(id)
      if (e !== undefined) out.push(e.event)
    }
    return out
  }

  currentSeq (principal: Principal, vm: string): number {
    return this.find(principal, vm).seq
  }

  vmExists (principal: Principal, vm: string): boolean {
    const rec = this.vms.get(vm)
    return rec !== undefined && visible(principal, rec)
  }

  /** The tenant owning a VM the principal can see (for the stream's bookkeeping). */
  tenantOf (principal: Principal, vm: string): string {
    return this.find(principal, vm).tenant
  }

  // ---- VMs ----------------------------------------------------------------------------

  createVm (principal: Principal, body: CreateVmInput): VmView {
    requireChange(principal, 'create VMs')
    const tenant = principal.tenant
    let count = 0
    for (const r of this.vms.values()) {
      if (r.tenant !== tenant) continue
      count++
      if (body.name !== undefined && r.name === body.name) throw new NameTaken(JSON.stringify(body.name))
    }
    if (count >= this.limits.maxVmsPerTenant) {
      throw new TooManyVms(`tenant ${tenant} already has ${count} VMs (limit ${this.limits.maxVmsPerTenant})`)
    }
    const { config, preset } = this.buildConfig(body)
    let vm: Vm
    try {
      vm = Vm.create(config, { maxInstructions: this.limits.maxProgramOps })
    } catch (e) { return translate(e) }

    const rec: VmRecord = {
      id: newVmId(),
      tenant,
      name: body.name ?? null,
      ord: ++this.ord,
      state: 'created',
      state_reason: 'created',
      config,
      policy: normalizePolicy(body.policy),
      preset,
      created_at: this.clock.now(),
      seq: 0,
      counters: { exits: 0, decisions: 0, by_rule: 0, by_timeout: 0 },
      vm,
      journal: new EventJournal(this.limits.journalEvents),
      exits: new ExitLog(),
      pending: new Map(),
      halted: new Set(),
      blocked: new Set(),
      nextVcpu: 0
    }
    this.vms.set(rec.id, rec)
    this.emitState(rec)
    if (body.autostart === true) this.applyAction(rec, 'start', 'rest')
    return this.view(rec)
  }

  getVm (principal: Principal, vm: string): VmView {
    return this.view(this.find(principal, vm))
  }

  /** The caller's VMs (every tenant's for an admin), oldest first. */
  listVms (principal: Principal, q: ListQuery = {}): Page<VmView> {
    const limit = q.limit ?? 50
    const after = q.cursor === undefined ? 0 : Number(q.cursor)
    const items: VmView[] = []
    let next: string | null = null
    let last = after
    for (const rec of this.vms.values()) {
      if (rec.ord <= after || !visible(principal, rec)) continue
      // The cursor is the creation number of the last item sent: stable under deletes.
      if (items.length === limit) { next = String(last); break }
      items.push(this.view(rec))
      last = rec.ord
    }
    return { items, next }
  }

  /** Kills the VM if it is not already killed (closing its pending exits), then forgets it. */
  deleteVm (principal: Principal, vm: string, by: DecidedBy = 'rest'): void {
    const rec = this.find(principal, vm)
    requireChange(principal, 'delete VMs')
    if (rec.state !== 'killed') this.kill(rec, by, 'deleted')
    this.vms.delete(rec.id)
  }

  /** start | pause | resume | stop | kill | reset, as the transition table allows. */
  act (principal: Principal, vm: string, action: VmAction, by: DecidedBy = 'rest'): VmView {
    const rec = this.find(principal, vm)
    requireChange(principal, `${action} VMs`)
    this.applyAction(rec, action, by)
    return this.view(rec)
  }

  // ---- memory and vCPUs ---------------------------------------------------------------

  memoryAttributes (principal: Principal, vm: string, gpa?: number, size?: number): AttributeExtent[] {
    const rec = this.find(principal, vm)
    try { return rec.vm.memoryAttributes(gpa, size) } catch (e) { return translate(e) }
  }

  /** KVM_SET_MEMORY_ATTRIBUTES: all or nothing, EINVAL as KVM says. */
  setMemoryAttributes (principal: Principal, vm: string, arg: MemoryAttributes): AttributeExtent[] {
    const rec = this.find(principal, vm)
    requireChange(principal, 'change memory attributes')
    try {
      rec.vm.setMemoryAttributes(arg)
      return rec.vm.memoryAttributes(arg.address, arg.size)
    } catch (e) { return translate(e) }
  }

  backing (principal: Principal, vm: string, gpa?: number, size?: number): BackingExtent[] {
    const rec = this.find(principal, vm)
    try { return rec.vm.backing(gpa, size) } catch (e) { return translate(e) }
  }

  poison (principal: Principal, vm: string, gpa: number): void {
    const rec = this.find(principal, vm)
    requireChange(principal, 'poison memory')
    try { rec.vm.poison(gpa) } catch (e) { translate(e) }
  }

  vcpus (principal: Principal, vm: string): VcpuInfo[] {
    return this.find(principal, vm).vm.vcpus()
  }

  /** Makes an interrupt pending on a vCPU (TDX MapGPA gets RETRY when one is due). */
  injectInterrupt (principal: Principal, vm: string, vcpu: number): VcpuInfo {
    const rec = this.find(principal, vm)
    requireChange(principal, 'inject interrupts')
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= rec.config.vcpus) {
      throw new VcpuNotFound(`VM ${rec.id} has no vCPU ${vcpu} (it has ${rec.config.vcpus})`)
    }
    try { rec.vm.injectInterrupt(vcpu) } catch (e) { translate(e) }
    // An interrupt may wake a halted vCPU; the next slice tells.
    if (rec.halted.delete(vcpu)) this.wake()
    else if (rec.state === 'running') this.wake()
    return rec.vm.vcpu(vcpu)
  }

  // ---- exits and decisions ------------------------------------------------------------

  /** The exit journal, oldest first; `since` is a seq, `next` the seq to pass as since. */
  exits (principal: Principal, vm: string, q: ExitsQuery = {}): Page<ExitView> {
    const rec = this.find(principal, vm)
    const since = q.since ?? 0
    const limit = q.limit ?? 100
    const items: ExitView[] = []
    let next: string | null = null
    for (const e of rec.exits.values()) {
      if (e.event.seq <= since) continue
      if (q.pending === true && e.decision !== null) continue
      if (q.pending === false && e.decision === null) continue
      if (items.length === limit) { next = String(items[items.length - 1]?.seq ?? since); break }
      items.push(exitView(e))
    }
    return { items, next }
  }

  /**
   * Applies a decision to a pending exit, exactly once whoever sends it. EXIT_NOT_PENDING
   * when it is not pending; INVALID_ACTION (the exit stays pending) when the core refuses.
   */
  decide (principal: Principal, vm: string, exit: number, decision: DecideInput, by: DecidedBy): ExitView {
    const rec = this.decideIn(principal, vm, exit, decision, by)
    return exitView(rec.exits.get(exit) as ExitEntry)
  }

  /**
   * decide() without the answer: the stream's path, which learns the outcome from the
   * `decided` event and would throw a view (a parse of the exit's frame) away.
   */
  apply (principal: Principal, vm: string, exit: number, decision: DecideInput, by: DecidedBy): void {
    this.decideIn(principal, vm, exit, decision, by)
  }

  /** Counts for /metrics. */
  stats (): { vms: Record<VmState, number>, pending: number } {
    const vms: Record<VmState, number> = { created: 0, running: 0, paused: 0, stopped: 0, killed: 0, crashed: 0 }
    let pending = 0
    for (const r of this.vms.values()) { vms[r.state]++; pending += r.pending.size }
    return { vms, pending }
  }

  /** Stops the scheduler and every timer; the VMs stay as they are. */
  close (): void {
    this.closed = true
    for (const r of this.vms.values()) for (const p of r.pending.values()) this.clearTimer(p)
  }

  // ---- internals ----------------------------------------------------------------------

  private decideIn (principal: Principal, vm: string, exit: number, decision: DecideInput, by: DecidedBy): VmRecord {
    const rec = this.find(principal, vm)
    requireChange(principal, 'decide exits')
    this.applyDecision(rec, exit, decision, by)
    return rec
  }

  private find (principal: Principal, id: string): VmRecord {
    const rec = this.vms.get(id)
    // Another tenant's VM does not exist for the caller: 404, never 403.
    if (rec === undefined || !visible(principal, rec)) throw new VmNotFound(id)
    return rec
  }

  private buildConfig (body: CreateVmInput): { config: VmConfig, preset: string | null } {
    const L = this.limits
    if (body.vcpus > L.maxVcpus) throw new LimitExceeded(`vcpus ${body.vcpus} is over this server's limit of ${L.maxVcpus}`)
    if (body.program !== undefined && body.preset !== undefined) throw new Validation('give program or preset, not both')
    if (body.gpaw !== undefined && body.type !== 'tdx') throw new InvalidConfig('gpaw is for tdx VMs only')
    const gpaw = body.gpaw ?? 48
    const confidential = body.type !== 'default'

    let program: unknown = body.program ?? []
    let memslots: MemslotConfig[] | undefined
    let preset: string | null = null
    if (body.preset !== undefined) {
      const p = getPreset(body.preset)
      if (p === undefined) throw new UnknownPreset(JSON.stringify(body.preset))
      if (!p.types.includes(body.type)) throw new InvalidConfig(`preset ${p.name} runs on ${p.types.join(', ')} VMs, not ${body.type}`)
      program = p.program
      preset = p.name
      memslots = p.memslots !== undefined
        ? p.memslots.map(s => ({ ...s }))
        : [{ slot: 0, gpa: 0, size: p.memory_mib * MIB, guest_memfd: confidential }]
    }
    if (body.memory !== undefined) {
      memslots = 'slots' in body.memory
        ? body.memory.slots.map(s => ({ ...s }))
        : [{ slot: 0, gpa: 0, size: body.memory.size_mib * MIB, guest_memfd: confidential }]
    }
    if (memslots === undefined) throw new Validation('memory is required (slots or size_mib) unless a preset gives it')
    if (memslots.length > L.maxMemslots) throw new LimitExceeded(`${memslots.length} memslots is over this server's limit of ${L.maxMemslots}`)

    let checked: Program
    try {
      checked = validateProgram(program, { type: body.type, gpaw, vcpus: body.vcpus, maxInstructions: L.maxProgramOps })
    } catch (e) { return translate(e) }
    const config: VmConfig = {
      type: body.type,
      vcpus: body.vcpus,
      memslots,
      initial_attributes: body.initial_attributes ?? (confidential ? 'private' : 'shared'),
      gpaw,
      program: checked,
      seed: body.seed ?? 1,
      hypercall_exit: true
    }
    return { config, preset }
  }

  private view (rec: VmRecord): VmView {
    const c: VmCounters = {
      exits: rec.counters.exits,
      pending: rec.pending.size,
      decisions: rec.counters.decisions,
      by_rule: rec.counters.by_rule,
      by_timeout: rec.counters.by_timeout,
      accesses: 0,
      hypercall_errors: 0,
      machine_checks: 0,
      interrupts: 0
    }
    for (const v of rec.vm.vcpus()) {
      c.accesses += v.counters.accesses
      c.hypercall_errors += v.counters.hypercall_errors
      c.machine_checks += v.counters.machine_checks
      c.interrupts += v.counters.interrupts
    }
    const v: VmView = {
      id: rec.id,
      name: rec.name,
      type: rec.config.type,
      state: rec.state,
      state_reason: rec.state_reason,
      vcpus: rec.config.vcpus,
      memslots: rec.config.memslots,
      initial_attributes: rec.config.initial_attributes,
      seed: rec.config.seed,
      preset: rec.preset,
      program_length: rec.config.program.length,
      policy: rec.policy,
      counters: c,
      seq: rec.seq,
      created_at: new Date(rec.created_at).toISOString()
    }
    if (rec.config.type === 'tdx') v.gpaw = rec.config.gpaw
    return v
  }

  private applyAction (rec: VmRecord, action: VmAction, by: DecidedBy): void {
    const to = nextState(rec.state, action)
    if (to === null) throw new InvalidTransition(`cannot ${action} VM ${rec.id}: it is ${rec.state}`)
    switch (action) {
      case 'kill': this.kill(rec, by, 'kill'); return
      case 'reset': this.reset(rec, by, 'reset'); return
      default: this.setState(rec, to, action)
    }
  }

  private setState (rec: VmRecord, state: VmState, reason: string): void {
    if (state === 'running') { this.running.add(rec); this.wake() } else this.running.delete(rec)
    rec.state = state
    rec.state_reason = reason
    this.emitState(rec)
  }

  private emitState (rec: VmRecord): void {
    const seq = ++rec.seq
    this.publish(rec, { vm: rec.id, tenant: rec.tenant, seq, type: 'state', frame: stateFrame(rec.id, seq, rec.state, rec.state_reason) })
  }

  private publish (rec: VmRecord, e: ControlEvent): void {
    rec.journal.append(e)
    this.bus.publish(e)
  }

  /** Closes every pending exit with a `decided` kill so that nothing waits for ever. */
  private closePending (rec: VmRecord, by: DecidedBy): void {
    for (const [id, p] of [...rec.pending]) {
      try { rec.vm.decide(p.vcpu, id, { action: 'kill' }) } catch { /* the core may have dropped it already */ }
      this.recordDecision(rec, id, { action: 'kill' }, by)
    }
  }

  private kill (rec: VmRecord, by: DecidedBy, reason: string): void {
    this.closePending(rec, by)
    this.setState(rec, 'killed', reason)
  }

  private reset (rec: VmRecord, by: DecidedBy, reason: string): void {
    this.closePending(rec, by)
    try { rec.vm.reset() } catch (e) { translate(e) }
    rec.halted.clear()
    rec.blocked.clear()
    this.setState(rec, rec.state === 'paused' ? 'paused' : 'running', reason)
  }

  private applyDecision (rec: VmRecord, exit: number, d: DecideInput, by: DecidedBy): void {
    const p = rec.pending.get(exit)
    if (p === undefined) throw new ExitNotPending(`exit ${exit} of VM ${rec.id} is not pending`)
    const decision: Decision = d.action === 'resume' ? decisionOf('resume', d.ret, d.data) : { action: d.action }
    let outcome
    try {
      outcome = rec.vm.decide(p.vcpu, exit, decision)
    } catch (e) { return translate(e) }
    this.recordDecision(rec, exit, d, by)
    if (outcome.vm === 'kill') this.kill(rec, by, by === 'timeout' ? 'timeout' : 'decision')
    else if (outcome.vm === 'reset') this.reset(rec, by, 'reset')
    else if (rec.state === 'running') this.wake()
  }

  /** Marks a pending exit decided and publishes `decided`; the core already has the decision. */
  private recordDecision (rec: VmRecord, exit: number, d: DecideInput, by: DecidedBy): void {
    const p = rec.pending.get(exit)
    if (p === undefined) return
    this.clearTimer(p)
    rec.pending.delete(exit)
    rec.blocked.delete(p.vcpu)
    rec.counters.decisions++
    if (by === 'rule') rec.counters.by_rule++
    if (by === 'timeout') rec.counters.by_timeout++
    const seq = ++rec.seq
    const entry = rec.exits.get(exit)
    if (entry !== undefined) {
      entry.decision = { action: d.action, by, seq }
      if (d.action === 'resume' && d.ret !== undefined) entry.decision.ret = d.ret
      if (d.action === 'resume' && d.data !== undefined) entry.decision.data = d.data
      if (d.reason !== undefined) entry.decision.reason = d.reason
    }
    this.publish(rec, { vm: rec.id, tenant: rec.tenant, seq, type: 'decided', exit, frame: decidedFrame(rec.id, exit, seq, d.action, by) })
  }

  private clearTimer (p: { timer: unknown }): void {
    if (p.timer !== undefined) { this.clock.clearTimeout(p.timer); p.timer = undefined }
  }

  private onExit (rec: VmRecord, r: ExitRecord): void {
    rec.counters.exits++
    const seq = ++rec.seq
    // Only the frame is kept (the message object dies young): REST parses it back when asked.
    const event: ControlEvent = { vm: rec.id, tenant: rec.tenant, seq, type: 'exit', exit: r.exit, frame: JSON.stringify(exitMessage(rec.id, seq, r)) }
    rec.exits.set(r.exit, { event, decision: null })
    rec.pending.set(r.exit, { vcpu: r.vcpu, timer: undefined })
    rec.blocked.add(r.vcpu)
    // Keeps at most journalEvents exits; pending exits are never dropped.
    rec.exits.trim(this.limits.journalEvents)
    this.publish(rec, event)

    if (isTerminalSystemEvent(r)) this.setState(rec, 'crashed', systemEventName(r.system_event?.type))

    const rule = firstMatch(rec.policy, r)
    if (rule !== undefined) {
      try {
        this.applyDecision(rec, r.exit, { ...ruleDecision(rule) }, 'rule')
        return
      } catch (e) {
        // A rule the core refuses for this exit leaves it pending, as any refused decision.
        this.logger?.warn({ vm: rec.id, exit: r.exit, err: e }, 'policy rule refused')
      }
    }
    const ms = rec.policy.decision_timeout_ms
    const p = rec.pending.get(r.exit)
    if (ms !== null && p !== undefined) p.timer = this.clock.setTimeout(() => { this.onTimeout(rec, r.exit) }, ms)
  }

  private onTimeout (rec: VmRecord, exit: number): void {
    const p = rec.pending.get(exit)
    if (p === undefined || this.vms.get(rec.id) !== rec) return
    p.timer = undefined
    try {
      this.applyDecision(rec, exit, decisionOf(rec.policy.on_timeout), 'timeout')
    } catch (e) {
      if (!(e instanceof Error && (e as { code?: string }).code === 'FAULTLINE_INVALID_ACTION')) {
        this.logger?.error({ vm: rec.id, exit, err: e }, 'timeout decision failed')
      }
      // on_timeout cannot apply to this exit: the VM is killed rather than left waiting.
      if (rec.pending.has(exit)) this.applyDecision(rec, exit, { action: 'kill' }, 'timeout')
    }
  }

  // ---- scheduler ----------------------------------------------------------------------

  private wake (): void {
    if (this.scheduled || this.closed || this.running.size === 0) return
    this.scheduled = true
    setImmediate(this.tick)
  }

  /**
   * Runs up to SLICES_PER_TICK bounded vCPU slices, round-robin across running VMs and
   * their vCPUs, then yields to the event loop; stops when nothing can run.
   */
  private readonly tick = (): void => {
    this.scheduled = false
    if (this.closed) return
    let slices = 0
    let idle = 0
    const order = this.order
    while (slices < SLICES_PER_TICK && this.running.size > 0 && idle < this.running.size) {
      let ranAny = false
      // A snapshot: a slice may stop a VM (or stop and restart it) while the pass goes on.
      order.length = 0
      for (const rec of this.running) order.push(rec)
      for (let i = 0; i < order.length && slices < SLICES_PER_TICK; i++) {
        const rec = order[i] as VmRecord
        if (rec.state !== 'running') continue
        if (this.runSlice(rec)) { slices++; ranAny = true }
      }
      idle = ranAny ? 0 : idle + this.running.size
    }
    // Holds no VM between ticks (a deleted one could not be collected).
    order.length = 0
    for (const rec of this.running) {
      if (rec.halted.size + rec.blocked.size < rec.config.vcpus) { this.wake(); return }
    }
  }

  /** Runs the VM's next runnable vCPU for one slice; false when none can run. */
  private runSlice (rec: VmRecord): boolean {
    const n = rec.config.vcpus
    for (let k = 0; k < n; k++) {
      const v = (rec.nextVcpu + k) % n
      if (rec.halted.has(v) || rec.blocked.has(v)) continue
      rec.nextVcpu = (v + 1) % n
      let res
      try {
        res = rec.vm.run(v, this.limits.runBudget)
      } catch (err) {
        this.logger?.error({ vm: rec.id, vcpu: v, err }, 'vCPU run failed')
        this.setState(rec, 'crashed', 'KVM_EXIT_INTERNAL_ERROR')
        return true
      }
      switch (res.kind) {
        case 'exit': this.onExit(rec, res.exit); break
        case 'halted':
          rec.halted.add(v)
          // Every vCPU has halted: the VM is stopped (api-v1.md "Guest programs").
          if (rec.halted.size === n && rec.state === 'running') this.setState(rec, 'stopped', 'halted')
          break
        case 'pending': rec.blocked.add(v); break
        case 'yield': break
      }
      return true
    }
    return false
  }
}

function visible (p: Principal, rec: VmRecord): boolean {
  return p.role === 'admin' || p.tenant === rec.tenant
}

function requireChange (p: Principal, what: string): void {
  if (!canChange(p)) throw new Forbidden(what)
}

function newVmId (): string {
  return 'vm_' + randomBytes(9).toString('base64url')
}

/** The exit as the stream sent it, with its decision: the frame parsed back (REST only). */
function exitView (e: ExitEntry): ExitView {
  const v = JSON.parse(e.event.frame) as ExitView
  v.decision = e.decision
  return v
}

// Re-exported for callers that catch core errors themselves.
export { KvmError }

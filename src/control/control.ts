// The single owner of every VM. Routes and the stream call these methods, each one a typed
// command; the work is done by the parts beside this file: the registry (tenancy), VM
// config, views, events, decisions, VM actions, exit intake and the scheduler. Errors are
// table codes (FaultlineError, or the core's KvmError as it is): no HTTP here.
import type { Principal } from '../auth/types.js'
import { canChange } from '../auth/roles.js'
import type { DecidedBy, Page, VmAction, VmState, VmType } from '../../schemas/common.js'
import type { ExitView, ExitsQuery } from '../../schemas/exit.js'
import type { ListQuery, PresetView, VmView } from '../../schemas/vm.js'
import { FaultlineError } from '../errors.js'
import { Vm } from '../kvm/index.js'
import { PRESETS } from '../kvm/program/presets/index.js'
import type { AttributeExtent, BackingExtent, ExtentPage, MemoryAttributes, VcpuInfo } from '../kvm/index.js'
import { GPA_LIMIT, PAGE_SIZE } from '../kvm/index.js'
import { DEFAULT_EXTENTS_PAGE } from '../../schemas/memory.js'
import type { ExtentsPage, RangeQuery } from '../../schemas/memory.js'
import type { Store, StoreError } from '../store/store.js'
import { CoreDriver } from './core-inputs.js'
import { Durable } from './durable.js'
import type { CommitObservation } from './durable.js'
import { Decisions } from './decisions.js'
import type { DecideInput } from './decisions.js'
import { VmEvents } from './events.js'
import type { VmRecorder } from './events.js'
import { ExitLog } from './exit-log.js'
import { ExitIntake } from './exits.js'
import { EventJournal } from './journal.js'
import { JournalBudget } from './journal-budget.js'
import { normalizePolicy } from './policy.js'
import { recoverVm } from './recovery.js'
import type { ExitEntry, VmRecord } from './record.js'
import { VmRegistry } from './registry.js'
import { Scheduler } from './scheduler.js'
import { ControlStats } from './stats.js'
import { DEFAULT_LIMITS, realClock } from './types.js'
import type { Clock, ControlEvent, ControlLogger, CreateVmInput, EventFilter, EventListener, Limits } from './types.js'
import { VmActions } from './vm-actions.js'
import { buildVmConfig } from './vm-config.js'
import { PendingExits } from './pending.js'
import { exitView, vmView } from './views.js'

export interface ControlOptions {
  limits?: Partial<Limits>
  clock?: Clock
  logger?: ControlLogger
  /**
   * The durable store: every VM in it is recovered now, and from then on each turn's
   * changes are committed to it before any client hears of them (docs/storage.md).
   */
  store?: Store
  /** A commit failed: nothing uncommitted may reach a client (the server exits; default: throw). */
  onStoreFailure?: (err: StoreError) => void
  /** The least log, in bytes, folded into a new checkpoint (durable.ts; tests lower it). */
  storeCompactBytes?: number
  /** How recent the last commit is for the loop to count as busy (durable.ts; tests raise it). */
  storeBusyMs?: number
}

export type { DecideInput, CommitObservation }

export class Control {
  readonly limits: Limits
  private readonly clock: Clock
  private readonly registry = new VmRegistry()
  private readonly events: VmEvents
  private readonly driver: CoreDriver
  private readonly decisions: Decisions
  private readonly actions: VmActions
  private readonly scheduler: Scheduler
  private readonly intake: ExitIntake
  /** What control/ did since start, for /metrics: read it, never write it. */
  readonly counters = new ControlStats()
  private readonly durable: Durable | undefined
  /** Each VM's share of the journal budget (journal-budget.ts). */
  private readonly budget: JournalBudget

  constructor (opts: ControlOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits }
    this.budget = new JournalBudget(this.limits.journalEvents, this.limits.journalBytes, this.limits.journalTotalEvents)
    this.clock = opts.clock ?? realClock
    this.events = new VmEvents(opts.logger)
    this.driver = new CoreDriver(this.events)
    this.decisions = new Decisions(this.events, this.driver, this.clock, this.counters)
    // The scheduler hands what it runs into the exit intake, which acts through the VM
    // actions, which start and stop VMs on the scheduler: one late-bound seam.
    this.scheduler = new Scheduler(this.limits.runBudget, this.limits.maxExtentsPerVm, {
      run: (rec, v, budget) => this.driver.run(rec, v, budget),
      onExit: (rec, r) => { this.counters.exit(r.reason); this.intake.onExit(rec, r) },
      onHalted: (rec, v) => { this.intake.onHalted(rec, v) },
      onRunError: (rec, v, err) => { this.intake.onRunError(rec, v, err) },
      onSliceEnd: (rec) => { this.intake.onSliceEnd(rec) }
    })
    this.actions = new VmActions(this.events, this.driver, this.decisions, this.scheduler)
    this.intake = new ExitIntake(this.registry, this.events, this.driver, this.decisions, this.actions, this.limits, opts.logger)
    this.durable = opts.store === undefined ? undefined : this.recover(opts.store, opts)
  }

  /**
   * Commits what this turn changed to the store, before bytes about it leave: the stream
   * calls it before releasing frames, REST before a response. Nothing to do when nothing
   * changed, or with no store.
   */
  readonly commit = (): void => { this.durable?.commit() }

  /**
   * Runs `fn` once what was produced so far is committed: with a store, right after the
   * group commit that ends this event-loop iteration; without one, at the same point (an
   * immediate queued from a tick, so that a scheduler tick this turn woke runs first and its
   * exits leave in the same write).
   */
  readonly afterCommit = (fn: () => void): void => {
    if (this.durable === undefined) process.nextTick(setImmediate, fn)
    else this.durable.afterCommit(fn)
  }

  /** Watches each commit (the metrics plugin); nothing without a store. */
  observeCommits (fn: (o: CommitObservation) => void): void {
    if (this.durable !== undefined) this.durable.observer = fn
  }

  /**
   * A new VM: the budget is split again with it. When that makes shares smaller, every VM's
   * history is trimmed to its share now, not at its next event, so that VMs filled one after
   * another cannot hold more than the total between them.
   */
  private reshare (): void {
    if (!this.budget.split()) return
    for (const rec of this.registry.values()) {
      rec.journal.trim()
      rec.exits.trim(rec.caps.events, rec.caps.bytes)
    }
    this.events.shrink()
  }

  /** Whether the tenant's running VMs had more to run when the scheduler last yielded. */
  backlogged (tenant: string): boolean { return this.scheduler.backlogged(tenant) }

  /** Whether VMs are kept in a store (and /metrics has its families). */
  get durableStore (): boolean { return this.durable !== undefined }

  /** Every VM of the store back as it was, running ones running, timers armed again. */
  private recover (store: Store, opts: ControlOptions): Durable {
    const state = store.load()
    const durable = new Durable(store, {
      lastOrd: () => this.registry.lastOrd,
      onFailure: opts.onStoreFailure ?? ((err) => { throw err }),
      ...(opts.storeCompactBytes !== undefined ? { minCompactBytes: opts.storeCompactBytes } : {}),
      ...(opts.storeBusyMs !== undefined ? { busyMs: opts.storeBusyMs } : {})
    })
    this.registry.resume(state.lastOrd)
    // Each VM comes back within its share of the budget among all of them.
    for (const s of state.vms) this.budget.join(s.tenant)
    this.budget.split()
    const back = state.vms.map(s => recoverVm(s, this.budget.of(s.tenant), store.file))
    for (const r of back) {
      this.registry.add(r.rec)
      durable.adopt(r.rec, r.pos, r.checkpointBytes, r.logBytes)
    }
    // Recorded only from here: recovery itself changes nothing that is not already stored.
    this.record(durable)
    for (const { rec } of back) {
      this.intake.rearm(rec)
      // A replay's engine (src/traces/) lives in memory only: its VM comes back paused, and
      // a client may resume it as an ordinary VM.
      if (rec.replay === true) {
        delete rec.replay
        if (rec.state === 'running') this.actions.setState(rec, 'paused', REPLAY_INTERRUPTED)
        continue
      }
      if (rec.state === 'running') this.scheduler.setRunning(rec, true)
    }
    return durable
  }

  // ---- events -------------------------------------------------------------------------

  /**
   * Adds a recorder of every VM's history: each input to its core and each event, in order,
   * events before any subscriber has them (the durable store, trace journals).
   */
  record (recorder: VmRecorder): void {
    for (const rec of this.registry.values()) recorder.recovered?.(rec)
    this.events.record(recorder)
  }

  /** Synchronous delivery, in seq order per VM; returns the unsubscribe function. */
  subscribe (filter: EventFilter, listener: EventListener): () => void {
    return this.events.subscribe(filter, listener)
  }

  /** The VM's events with seq > since, oldest first; SEQ_EXPIRED when not all are kept. */
  replay (principal: Principal, vm: string, since: number): ControlEvent[] {
    const rec = this.registry.find(principal, vm)
    const out = rec.journal.after(since, rec.seq)
    if (out === null) throw new FaultlineError('SEQ_EXPIRED', `events after seq ${since} of ${vm} are no longer kept (oldest kept: ${rec.journal.oldestSeq ?? 'none'})`)
    return out
  }

  /** The exit events still waiting for a decision, oldest first. */
  pendingExitEvents (principal: Principal, vm: string): ControlEvent[] {
    const rec = this.registry.find(principal, vm)
    const out: ControlEvent[] = []
    for (const id of rec.pending.keys()) {
      const e = rec.exits.get(id)
      if (e !== undefined) out.push(e.event)
    }
    return out
  }

  currentSeq (principal: Principal, vm: string): number {
    return this.registry.find(principal, vm).seq
  }

  vmExists (principal: Principal, vm: string): boolean {
    return this.registry.exists(principal, vm)
  }

  // ---- VMs ----------------------------------------------------------------------------

  createVm (principal: Principal, body: CreateVmInput): VmView {
    requireChange(principal, 'create VMs')
    const tenant = principal.tenant
    const usage = this.registry.tenantUsage(tenant, body.name)
    if (usage.nameTaken) throw new FaultlineError('NAME_TAKEN', `a VM named ${JSON.stringify(body.name)} already exists`)
    if (usage.count >= this.limits.maxVmsPerTenant) {
      throw new FaultlineError('TOO_MANY_VMS', `tenant ${tenant} already has ${usage.count} VMs (limit ${this.limits.maxVmsPerTenant})`)
    }
    const total = this.registry.size
    if (total >= this.limits.maxVms) {
      throw new FaultlineError('TOO_MANY_VMS', `the server already has ${total} VMs (limit ${this.limits.maxVms})`)
    }
    const { config, preset } = buildVmConfig(body, this.limits)
    const vm = Vm.create(config, { maxInstructions: this.limits.maxProgramOps })
    const { id, ord } = this.registry.allocate()
    const caps = this.budget.join(tenant)
    const now = this.clock.now()
    const rec: VmRecord = {
      id,
      idJson: JSON.stringify(id),
      tenant,
      name: body.name ?? null,
      ord,
      state: 'created',
      state_reason: 'created',
      config,
      policy: normalizePolicy(body.policy),
      preset,
      created_at: now,
      createdIso: new Date(now).toISOString(),
      seq: 0,
      counters: { exits: 0, decisions: 0, by_rule: 0, by_timeout: 0 },
      vm,
      caps,
      journal: new EventJournal(caps),
      exits: new ExitLog(),
      pending: new PendingExits(),
      halted: new Set(),
      blocked: new Set(),
      nextVcpu: 0
    }
    this.registry.add(rec)
    this.reshare()
    this.events.state(rec)
    if (body.autostart === true) this.actions.act(rec, 'start', 'rest')
    return vmView(rec)
  }

  getVm (principal: Principal, vm: string): VmView {
    return vmView(this.registry.find(principal, vm))
  }

  /** The caller's VMs (every tenant's for an admin), oldest first. */
  listVms (principal: Principal, q: ListQuery = {}): Page<VmView> {
    // The cursor seals the creation number of the last item sent: stable under deletes.
    const after = q.cursor === undefined ? 0 : this.registry.cursorOrd(principal, q.cursor)
    const page = this.registry.list(principal, after, q.limit ?? 50)
    return { items: page.items.map(vmView), next: page.last === null ? null : this.registry.cursor(principal, page.last) }
  }

  /**
   * Kills the VM if it is not already killed (closing its pending exits), says `deleted` to
   * its subscribers (who drop it, controller roles included), then forgets it.
   */
  deleteVm (principal: Principal, vm: string, by: DecidedBy = 'rest'): void {
    const rec = this.registry.find(principal, vm)
    requireChange(principal, 'delete VMs')
    if (rec.state !== 'killed') this.actions.kill(rec, by, 'deleted')
    this.events.deleted(rec)
    this.registry.remove(rec)
    // The shares grow back; each VM keeps more from its next event on.
    this.budget.leave(rec.tenant)
    this.budget.split()
  }

  /** start | pause | resume | stop | kill | reset, as the transition table allows. */
  act (principal: Principal, vm: string, action: VmAction, by: DecidedBy = 'rest'): VmView {
    const rec = this.registry.find(principal, vm)
    requireChange(principal, `${action} VMs`)
    this.actions.act(rec, action, by)
    return vmView(rec)
  }

  /** The built-in guest programs, as GET /v1/presets lists them. */
  presets (): PresetView[] {
    return PRESETS.map(p => ({ ...p }))
  }

  // ---- memory and vCPUs ---------------------------------------------------------------

  /** A page of attribute extents over the range (RangeQuery: gpa, size, limit, cursor). */
  memoryAttributes (principal: Principal, vm: string, q: RangeQuery = {}): ExtentsPage<AttributeExtent> {
    const rec = this.registry.find(principal, vm)
    const r = pageRange(q)
    return pageOut(rec.vm.memoryAttributesPage(r.from, r.end - r.from, r.limit))
  }

  /**
   * KVM_SET_MEMORY_ATTRIBUTES: all or nothing, EINVAL as KVM says; LIMIT_EXCEEDED (nothing
   * applied) when the VM would hold more extents than FAULTLINE_MAX_EXTENTS_PER_VM.
   */
  setMemoryAttributes (principal: Principal, vm: string, arg: MemoryAttributes): AttributeExtent[] {
    const rec = this.registry.find(principal, vm)
    requireChange(principal, 'change memory attributes')
    if (!this.driver.setMemoryAttributes(rec, arg, this.limits.maxExtentsPerVm)) {
      throw new FaultlineError('LIMIT_EXCEEDED', `VM ${rec.id} would hold more than ${this.limits.maxExtentsPerVm} memory extents (FAULTLINE_MAX_EXTENTS_PER_VM); nothing was changed`)
    }
    return rec.vm.memoryAttributes(arg.address, arg.size)
  }

  /** A page of backing extents over the range (RangeQuery: gpa, size, limit, cursor). */
  backing (principal: Principal, vm: string, q: RangeQuery = {}): ExtentsPage<BackingExtent> {
    const rec = this.registry.find(principal, vm)
    const r = pageRange(q)
    return pageOut(rec.vm.backingPage(r.from, r.end - r.from, r.limit))
  }

  poison (principal: Principal, vm: string, gpa: number): void {
    const rec = this.registry.find(principal, vm)
    requireChange(principal, 'poison memory')
    // A poisoned page splits at most two extents in each of two maps.
    if (rec.vm.extentCount + 4 > this.limits.maxExtentsPerVm) {
      throw new FaultlineError('LIMIT_EXCEEDED', `VM ${rec.id} holds ${rec.vm.extentCount} memory extents, near its limit of ${this.limits.maxExtentsPerVm} (FAULTLINE_MAX_EXTENTS_PER_VM); nothing was poisoned`)
    }
    this.driver.poison(rec, gpa)
  }

  vcpus (principal: Principal, vm: string): VcpuInfo[] {
    return this.registry.find(principal, vm).vm.vcpus()
  }

  /** Makes an interrupt pending on a vCPU (TDX MapGPA gets RETRY when one is due). */
  injectInterrupt (principal: Principal, vm: string, vcpu: number): VcpuInfo {
    const rec = this.registry.find(principal, vm)
    requireChange(principal, 'inject interrupts')
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= rec.config.vcpus) {
      throw new FaultlineError('VCPU_NOT_FOUND', `VM ${rec.id} has no vCPU ${vcpu} (it has ${rec.config.vcpus})`)
    }
    this.driver.interrupt(rec, vcpu)
    // An interrupt may wake a halted vCPU; the next slice tells.
    rec.halted.delete(vcpu)
    if (rec.state === 'running') this.scheduler.wake()
    return rec.vm.vcpu(vcpu)
  }

  // ---- exits and decisions ------------------------------------------------------------

  /** The exit journal, oldest first; `since` is a seq, `next` the seq to pass as since. */
  exits (principal: Principal, vm: string, q: ExitsQuery = {}): Page<ExitView> {
    const rec = this.registry.find(principal, vm)
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

  /** Counts for /metrics: VMs by state and type, and the exits waiting for a decision. */
  stats (): { vms: Record<VmState, Record<VmType, number>>, pending: number } {
    const types = (): Record<VmType, number> => ({ default: 0, sw_protected: 0, snp: 0, tdx: 0 })
    const vms: Record<VmState, Record<VmType, number>> = { created: types(), running: types(), paused: types(), stopped: types(), killed: types(), crashed: types() }
    let pending = 0
    for (const r of this.registry.values()) { vms[r.state][r.config.type]++; pending += r.pending.size }
    return { vms, pending }
  }

  /** Stops the scheduler and every timer; the VMs stay as they are, committed to the store, which is closed. */
  close (): void {
    this.scheduler.close()
    for (const r of this.registry.values()) this.decisions.clearTimers(r)
    this.durable?.close()
  }

  private decideIn (principal: Principal, vm: string, exit: number, decision: DecideInput, by: DecidedBy): VmRecord {
    const rec = this.registry.find(principal, vm)
    requireChange(principal, 'decide exits')
    // A replay may hold a client's decision until the recorded run reached it (src/traces/).
    if (this.decisionGate?.(rec, exit, decision, by) === true) return rec
    this.actions.decide(rec, exit, decision, by)
    return rec
  }

  // ---- trace replays (src/traces/): a VM driven by a recorded schedule ------------------

  private decisionGate: DecisionGate | undefined

  /** Creates a VM that a replay drives: the scheduler never runs it, driveSlice() does. */
  createDrivenVm (principal: Principal, body: CreateVmInput): VmRecord {
    const view = this.createVm(principal, body)
    const rec = this.registry.find(principal, view.id)
    rec.replay = true
    return rec
  }

  /** One recorded slice of a driven VM, through the exit intake as a scheduled slice goes. */
  driveSlice (rec: VmRecord, vcpu: number, budget: number): void {
    let res
    try {
      res = this.driver.run(rec, vcpu, budget)
    } catch (err) {
      this.intake.onRunError(rec, vcpu, err)
      return
    }
    switch (res.kind) {
      case 'exit': this.counters.exit(res.exit.reason); this.intake.onExit(rec, res.exit); break
      case 'halted': this.intake.onHalted(rec, vcpu); break
      case 'pending': rec.blocked.add(vcpu); break
      case 'yield': break
    }
    if (rec.state === 'running') this.intake.onSliceEnd(rec)
  }

  /** A decision a replay makes (recorded, or a client's it held): past the gate. */
  driveDecision (rec: VmRecord, exit: number, decision: DecideInput, by: DecidedBy): void {
    this.actions.decide(rec, exit, decision, by)
  }

  /** Sees every client decision first (REST, the stream); true: the gate took it. */
  gateDecisions (gate: DecisionGate): void {
    this.decisionGate = gate
  }
}

/** Sees a client's decision before it is applied; returns true when it took it over. */
/** The state reason of a replay's VM after a restart ended its replay. */
export const REPLAY_INTERRUPTED = 'replay-interrupted'

export type DecisionGate = (rec: VmRecord, exit: number, decision: DecideInput, by: DecidedBy) => boolean

/** Where a page of a memory range starts and ends: from the cursor, else from gpa. */
function pageRange (q: RangeQuery): { from: number, end: number, limit: number } {
  const gpa = q.gpa ?? 0
  const end = q.size === undefined ? GPA_LIMIT : gpa + q.size
  const limit = q.limit ?? DEFAULT_EXTENTS_PAGE
  if (q.cursor === undefined) return { from: gpa, end, limit }
  const from = Number(q.cursor)
  if (!Number.isSafeInteger(from) || from < gpa || from >= end || from % PAGE_SIZE !== 0) {
    throw new FaultlineError('VALIDATION', `cursor ${q.cursor} is not a page of this range: pass the \`next\` of the previous page with the same gpa and size`, { path: 'cursor' })
  }
  return { from, end, limit }
}

function pageOut<T> (p: ExtentPage<T>): ExtentsPage<T> {
  return { extents: p.extents, next: p.next === null ? null : String(p.next) }
}

function requireChange (p: Principal, what: string): void {
  if (!canChange(p)) throw new FaultlineError('FORBIDDEN', `this token may not ${what}`)
}

// One replay: a VM made again from a trace's header and driven by the trace's inputs (the
// `run` lines are the schedule), each output it produces compared with the recorded one.
// Decisions the recorded run's clients made come from the recording (decide=recorded) or
// from the replay VM's controller, held until the recorded run reached them and compared.
// docs/traces.md says what each difference means and what on_divergence does.
import { performance } from 'node:perf_hooks'
import type { Principal } from '../auth/types.js'
import type { Control, DecideInput } from '../control/control.js'
import type { VmRecord } from '../control/record.js'
import { coreDecision } from '../control/decisions.js'
import type { DecidedBy, VmAction } from '../../schemas/common.js'
import type { ExitMessage } from '../../schemas/exit.js'
import type { DecideMode, Divergence, OnDivergence, ReplayState, ReplayView, TraceBodyLine, TraceDecision, TraceState } from '../../schemas/trace.js'
import { TRANSITIONS } from '../../schemas/lifecycle.js'
import { FaultlineError } from '../errors.js'
import { KvmError } from '../kvm/index.js'
import type { FlatDecision, TraceEntry } from './journal.js'
import type { ExitLine, ParsedTrace, ReplayLine } from './read.js'
import { entryLine } from './write.js'

type Output = Exclude<TraceEntry, { k: 'run' | 'input' }>

/** Divergences a view lists at most (later ones are not kept). */
const MAX_DIVERGENCES = 1000
/** Slices of one run line a step runs: a line's count is the trace's word, not a bound. */
const SLICES_PER_STEP = 16
const ACTIONS = new Set<string>(['start', 'pause', 'resume', 'stop', 'kill', 'reset'])

export interface ReplayOptions {
  id: string
  principal: Principal
  decide: DecideMode
  onDivergence: OnDivergence
  now: () => number
  /** Asks the server's replay pump (pump.ts) for a turn. */
  wake: (r: Replay) => void
}

export class Replay {
  state: ReplayState = 'running'
  readonly divergences: Divergence[] = []
  private next = 0
  private readonly actual: Output[] = []
  private readonly held = new Map<number, { d: DecideInput, by: DecidedBy }>()
  private waitingFor: number | null = null
  /** Slices of the current run line already run. */
  private slicesDone = 0
  private exitsRecorded = 0
  private exitsReplayed = 0
  private decisionsRecorded = 0
  private decisionsCompared = 0
  private readonly total: number
  private finishedAt: number | null = null
  private error: string | null = null
  private readonly createdAt: number
  private lines: ReplayLine[]

  constructor (
    private readonly control: Control,
    readonly rec: VmRecord,
    trace: ParsedTrace,
    readonly opts: ReplayOptions,
    /** Called once when the replay ends (the service stops tapping the VM). */
    private readonly onEnd: (r: Replay) => void
  ) {
    this.lines = trace.lines
    this.total = trace.lines.length + 1
    this.createdAt = opts.now()
    for (const l of trace.lines) {
      if (l.t === 'exit') this.exitsRecorded++
      else if (l.t === 'decision') this.decisionsRecorded++
    }
  }

  get id (): string { return this.opts.id }
  get finished (): boolean { return this.finishedAt !== null }

  /** An output line of the replay VM, as the recorder makes it. */
  output (e: Output): void {
    this.actual.push(e)
  }

  start (): void { this.schedule() }

  /** Stops driving the VM (DELETE, or the VM was deleted); its state stays as it is. */
  stop (why: string): void {
    if (this.finished) return
    this.error = why
    this.finish('stopped')
  }

  /**
   * A client's decision on the replay VM (REST or the stream), before it is applied: the
   * replay takes it and applies it when the recorded run reaches that exit.
   */
  gate (exit: number, d: DecideInput, by: DecidedBy): boolean {
    if (this.finished) return false
    if (this.opts.decide === 'recorded') {
      throw new FaultlineError('CONFLICT', `replay ${this.id} decides the exits of VM ${this.rec.id} from its trace (decide=recorded)`)
    }
    const p = this.rec.pending.get(exit)
    if (p === undefined || this.held.has(exit)) throw new FaultlineError('EXIT_NOT_PENDING', `exit ${exit} of VM ${this.rec.id} is not pending`)
    // Refused now as on any VM (VALIDATION, INVALID_ACTION; the exit stays pending), so the
    // controller hears of it: the core's answer cannot change before the replay applies it.
    this.rec.vm.checkDecision(p.vcpu, exit, coreDecision(d))
    this.held.set(exit, { d, by })
    if (this.waitingFor === exit) { this.waitingFor = null; this.state = 'running'; this.schedule() }
    return true
  }

  view (): ReplayView {
    return {
      id: this.id,
      vm: this.rec.id,
      state: this.state,
      decide: this.opts.decide,
      on_divergence: this.opts.onDivergence,
      exits: { recorded: this.exitsRecorded, replayed: this.exitsReplayed },
      decisions: { recorded: this.decisionsRecorded, compared: this.decisionsCompared },
      lines: { total: this.total, done: Math.min(this.total, this.next + 1) },
      divergences: this.divergences,
      error: this.error,
      created_at: new Date(this.createdAt).toISOString(),
      finished_at: this.finishedAt === null ? null : new Date(this.finishedAt).toISOString()
    }
  }

  private schedule (): void {
    if (this.runnable) this.opts.wake(this)
  }

  get tenant (): string { return this.opts.principal.tenant }

  /** Whether it can go on: not finished, not waiting for a controller. */
  get runnable (): boolean { return !this.finished && this.waitingFor === null }

  /** Goes through lines until `deadline`; stops while it waits for a controller (pump.ts). */
  work (deadline: number): void {
    try {
      while (this.runnable) {
        this.step()
        // Every step: a step's slices may each be a whole FAULTLINE_RUN_BUDGET of work.
        if (performance.now() >= deadline) return
      }
    } catch (e) {
      this.error = `replay failed at line ${this.next + 2}: ${(e as Error).message}`
      this.finish('failed')
    }
  }

  /** One trace line. */
  private step (): void {
    const line = this.lines[this.next] as ReplayLine
    const n = this.next + 2
    switch (line.t) {
      case 'input':
        this.extra(n)
        if (this.finished) return
        // A long run of slices is gone through a share at a time: the turn may yield between.
        if (!this.input(line)) return
        break
      case 'exit': {
        const a = this.actual.shift()
        if (a?.k === 'exit') {
          this.exitsReplayed++
          if (!sameExit(line, this.rec, a.seq, a.frame)) this.diverge('SIMULATION_DIVERGED', line.exit, line.seq, n, JSON.parse(line.row), lineOf(a))
        } else {
          this.diverge('SIMULATION_DIVERGED', line.exit, line.seq, n, JSON.parse(line.row), a === undefined ? null : lineOf(a))
        }
        break
      }
      case 'decision':
        if (!this.decision(line, n)) return
        break
      case 'state':
        this.stateLine(line, n)
        break
      case 'end':
        this.extra(n)
        this.next++
        this.finish(this.divergences.length === 0 ? 'passed' : 'diverged')
        return
    }
    if (!this.finished) this.next++
  }

  /** Applies an input line; false when a run line has slices left for the next step. */
  private input (line: Extract<TraceBodyLine, { t: 'input' }>): boolean {
    const p = this.opts.principal
    switch (line.op) {
      case 'run': {
        // The scheduler runs running VMs only; after a difference the replay may not be.
        const n = line.n ?? 1
        const until = Math.min(n, this.slicesDone + SLICES_PER_STEP)
        while (this.slicesDone < until && this.rec.state === 'running') {
          this.control.driveSlice(this.rec, line.vcpu, line.budget)
          this.slicesDone++
        }
        if (this.slicesDone < n && this.rec.state === 'running') return false
        this.slicesDone = 0
        return true
      }
      // REST inputs: each threw, or not, as it did when recorded (a refusal changes nothing).
      case 'attributes':
        try { this.control.setMemoryAttributes(p, this.rec.id, { address: line.address, size: line.size, attributes: line.attributes, flags: line.flags }) } catch { /* refused as recorded */ }
        return true
      case 'poison':
        try { this.control.poison(p, this.rec.id, line.gpa) } catch { /* refused as recorded */ }
        return true
      case 'interrupt':
        try { this.control.injectInterrupt(p, this.rec.id, line.vcpu) } catch { /* refused as recorded */ }
        return true
      case 'reset':
        // Made by a reset (an action or a decision's outcome), which the replay makes too.
        return true
    }
  }

  /** A decision line; false when the replay must wait for the controller. */
  private decision (line: TraceDecision, n: number): boolean {
    let a = this.actual[0]
    if (a === undefined && this.rec.pending.has(line.exit)) {
      const action = line.action === 'kill' ? this.closingAction() : undefined
      if (action !== undefined) {
        // A kill that closes the exit because an action ended the VM: the action does it.
        this.control.act(this.opts.principal, this.rec.id, action, 'rest')
      } else {
        const made = this.supply(line, n)
        if (made === 'wait') return false
        if (made === 'refused' || this.finished) return true
      }
      a = this.actual[0]
    }
    if (a?.k === 'decision') {
      this.actual.shift()
      this.decisionsCompared++
      // Compared as made, not as its line: one per exit (writing and reading the line back
      // was a tenth of a replay's time); written out only when it differs.
      if (!sameDecision(line, a.d)) this.diverge('DECISION_DIVERGED', line.exit, line.seq, n, line, lineOf(a))
    } else {
      if (a !== undefined) this.actual.shift()
      this.diverge('DECISION_DIVERGED', line.exit, line.seq, n, line, a === undefined ? null : lineOf(a))
    }
    return true
  }

  /**
   * Makes the decision the recorded run's client made: the recorded one, or the
   * controller's ('wait': not made yet; 'refused': the core refused it, reported).
   */
  private supply (line: TraceDecision, n: number): 'made' | 'wait' | 'refused' {
    const recorded = decisionInput(line)
    // A rule's decision the replay's rules did not make (its exit differed already) and the
    // recorded run's own choices in recorded mode: applied as recorded.
    if (this.opts.decide === 'recorded' || line.by === 'rule') return this.apply(line, n, recorded, line.by)
    const held = this.held.get(line.exit)
    if (held === undefined) {
      this.waitingFor = line.exit
      this.state = 'waiting'
      return 'wait'
    }
    this.held.delete(line.exit)
    if (this.opts.onDivergence === 'use_recorded' && !sameDecision(line, held.d)) {
      // The controller's answer is reported and the recorded one applied: the run stays on
      // the recorded path, and the replay's decision line, now the recorded one, compares equal.
      this.diverge('DECISION_DIVERGED', line.exit, line.seq, n, line, { t: 'decision', exit: line.exit, ...held.d, by: held.by })
      return this.apply(line, n, { ...recorded, reason: `replay ${this.id}: the recorded decision` }, held.by)
    }
    const made = this.apply(line, n, held.d, held.by)
    // The controller's decision cannot apply to this exit: the recorded one keeps the run going.
    return made === 'refused' && !this.finished ? this.apply(line, n, recorded, line.by) : made
  }

  /** Applies a decision; one the core refuses (INVALID_ACTION) is a divergence, the exit left pending. */
  private apply (line: TraceDecision, n: number, d: DecideInput, by: DecidedBy): 'made' | 'refused' {
    try {
      this.control.driveDecision(this.rec, line.exit, d, by)
      return 'made'
    } catch (e) {
      if (!(e instanceof KvmError)) throw e
      this.diverge('DECISION_DIVERGED', line.exit, line.seq, n, line, { t: 'decision', exit: line.exit, ...d, by, refused: e.message })
      return 'refused'
    }
  }

  /** The action ending the VM right after this kill line, if the kill is that action's. */
  private closingAction (): VmAction | undefined {
    for (let i = this.next + 1; i < this.lines.length; i++) {
      const l = this.lines[i] as ReplayLine
      if (l.t === 'decision' || (l.t === 'input' && l.op === 'reset')) continue
      if (l.t === 'state' && (l.reason === 'kill' || l.reason === 'reset') && TRANSITIONS[l.reason].includes(this.rec.state)) return l.reason
      return undefined
    }
    return undefined
  }

  private stateLine (line: TraceState, n: number): void {
    if (this.actual.length === 0 && ACTIONS.has(line.reason) && line.state !== 'deleted') {
      const action = line.reason as VmAction
      if (TRANSITIONS[action].includes(this.rec.state)) this.control.act(this.opts.principal, this.rec.id, action, 'rest')
    }
    const a = this.actual.shift()
    if (a?.k !== 'state' || a.state !== line.state || a.reason !== line.reason) {
      this.diverge('SIMULATION_DIVERGED', null, line.seq, n, line, a === undefined ? null : lineOf(a))
    }
  }

  /** Outputs the replay made that the recording does not have at this point. */
  private extra (n: number): void {
    while (this.actual.length > 0 && !this.finished) {
      const a = this.actual.shift() as Output
      this.diverge('SIMULATION_DIVERGED', a.k === 'state' ? null : a.exit, null, n, null, lineOf(a))
    }
  }

  private diverge (kind: Divergence['kind'], exit: number | null, seq: number | null, line: number, recorded: unknown, actual: unknown): void {
    if (this.divergences.length < MAX_DIVERGENCES) this.divergences.push({ kind, exit, seq, line, recorded, actual })
    if (this.opts.onDivergence === 'stop') this.finish('diverged')
  }

  private finish (state: ReplayState): void {
    if (this.finished) return
    this.state = state
    this.finishedAt = this.opts.now()
    this.waitingFor = null
    this.held.clear()
    // The trace is not needed any more; the view keeps the counts and divergences.
    this.lines = []
    this.onEnd(this)
  }
}

function lineOf (e: Output): unknown {
  return JSON.parse(entryLine(e))
}

/**
 * The same exit but for the VM id and the seq (a replay VM has its own id). As text, no
 * parse on the hot path: the replay's frame is compared with the recorded frame's tail
 * after its vm, exit and seq (read.ts keeps the tail only for a line in exitFrame's
 * layout), and the exit's number; equal text is an equal frame. Otherwise the exact
 * comparison: the recorded exit, given the replay's id and seq, written as the stream
 * writes an exit (key order counts) and compared with the frame.
 */
function sameExit (line: ExitLine, rec: VmRecord, seq: number, frame: string): boolean {
  const tail = line.tail
  if (tail !== null && frame.endsWith(tail)) {
    // The frame is this VM's, written by exitFrame: `{"type":"exit","vm":` (20 characters),
    // its id, then its exit and this seq; what is left to compare is the exit's number.
    const mid = `,"exit":${line.exit},"seq":${seq}`
    const at = 20 + rec.idJson.length
    if (frame.length === at + mid.length + tail.length && frame.startsWith(mid, at)) return true
  }
  const recorded = (JSON.parse(line.row) as { exit: ExitMessage }).exit
  recorded.vm = rec.id
  recorded.seq = seq
  return JSON.stringify(recorded) === frame
}

/** The same decision for the guest: action, ret, data, inject (not who, not the note). */
function sameDecision (r: TraceDecision, a: DecideInput | FlatDecision): boolean {
  return r.action === a.action && r.ret === a.ret && r.inject === a.inject && JSON.stringify(r.data) === JSON.stringify(a.data)
}

function decisionInput (l: TraceDecision): DecideInput {
  const d: DecideInput = { action: l.action }
  if (l.ret !== undefined) d.ret = l.ret
  if (l.data !== undefined) d.data = l.data
  if (l.inject !== undefined) d.inject = l.inject
  if (l.reason !== undefined) d.reason = l.reason
  return d
}

// The simulated VM: memslots, attributes, backing, poison, and its vCPUs. The single entry
// point control/ uses. Pure: no clock, no I/O; randomness comes from the config's seed.
import { GPA_LIMIT, KVM_MEMORY_ATTRIBUTE_PRIVATE, PAGE_SIZE } from './constants.js'
import { AttributeMap } from './attribute-map.js'
import type { ExtentMapSnapshot } from './extent-map.js'
import { Backing } from './backing.js'
import type { BackingSnapshot } from './backing.js'
import { FaultPath } from './fault-path.js'
import { Memslots, validateMemslots } from './memslots.js'
import { validateProgram } from './program/validate.js'
import type {
  AttributeExtent, BackingExtent, Decision, DecisionOutcome, ExitRecord, KvmAbi, MemoryAttributes,
  StepResult, VcpuCounters, VcpuInfo, VmConfig, VmType
} from './types.js'
import { DEFAULT_KVM_ABI, KVM_ABIS, KvmError } from './types.js'
import { Vcpu } from './vcpu/vcpu.js'
import type { VcpuCore } from './vcpu/vcpu.js'
import { compileProgram } from './vcpu/compile.js'
import type { Code } from './vcpu/compile.js'
import type { VcpuData } from './vcpu/state.js'

/** The whole state of a VM as plain JSON-able data (pending exits included). */
export interface VmSnapshot {
  version: 1
  config: VmConfig
  /** Opaque to callers: the core's own state, restored by Vm.restore. */
  state: unknown
}

/** Limits a host puts on the VMs it creates. */
export interface VmLimits {
  /** Most ops a program may have, counted through repeat bodies (default 10000). */
  maxInstructions?: number
}

/** A page of extents and the gpa the next page starts at, null on the last. */
export interface ExtentPage<T> { extents: T[], next: number | null }

/** The first `limit` extents; the next page starts at the one after, else at `rest`. */
function cut<T extends { gpa: number }> (out: T[], limit: number, rest: number | null): ExtentPage<T> {
  if (out.length <= limit) return { extents: out, next: rest }
  const next = (out[limit] as T).gpa
  out.length = limit
  return { extents: out, next }
}

export const DEFAULT_MAX_INSTRUCTIONS = 10_000
export const MAX_VCPUS = 256

interface CoreState {
  nextExit: number
  attributes: ExtentMapSnapshot
  backing: BackingSnapshot
  vcpus: VcpuData[]
}

const VM_TYPES: readonly VmType[] = ['default', 'sw_protected', 'snp', 'tdx']

const badConfig = (message: string): KvmError => new KvmError('INVALID_CONFIG', message, { errno: 'EINVAL' })

function validateConfig (config: VmConfig, limits: VmLimits): VmConfig {
  if (typeof config !== 'object' || config === null) throw badConfig('config must be an object')
  const { type, vcpus, gpaw, initial_attributes: initial, seed, hypercall_exit: hcExit } = config
  if (!VM_TYPES.includes(type)) throw badConfig(`type must be one of ${VM_TYPES.join(', ')}`)
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) throw badConfig(`vcpus must be an integer from 1 to ${MAX_VCPUS}`)
  if (gpaw !== 48 && gpaw !== 52) throw badConfig('gpaw must be 48 or 52')
  if (initial !== 'private' && initial !== 'shared') throw badConfig('initial_attributes must be "private" or "shared"')
  if (initial === 'private' && type === 'default') throw badConfig('initial_attributes "private" needs a VM type with private memory, not default')
  if (!Number.isSafeInteger(seed)) throw badConfig('seed must be a safe integer')
  if (typeof hcExit !== 'boolean') throw badConfig('hypercall_exit must be true or false')
  const abi = config.kvm_abi ?? DEFAULT_KVM_ABI
  if (!KVM_ABIS.includes(abi)) throw badConfig(`kvm_abi must be one of ${KVM_ABIS.join(', ')}`)
  const memslots = validateMemslots(config.memslots, type, gpaw)
  const maxInstructions = limits.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS
  const program = validateProgram(config.program, { type, gpaw, vcpus, maxInstructions })
  return { type, vcpus, memslots, initial_attributes: initial, gpaw, program, seed, hypercall_exit: hcExit, kvm_abi: abi }
}

export class Vm implements VcpuCore {
  readonly config: VmConfig
  readonly type: VmType
  readonly gpaw: 48 | 52
  readonly hypercallExit: boolean
  readonly kvmAbi: KvmAbi
  readonly seed: number
  readonly code: Code
  private readonly memslots: Memslots
  private attrs!: AttributeMap
  private store!: Backing
  fault!: FaultPath
  private cpus: Vcpu[] = []
  private nextExit = 1

  private constructor (config: VmConfig, state?: CoreState) {
    this.config = config
    this.type = config.type
    this.gpaw = config.gpaw
    this.hypercallExit = config.hypercall_exit
    this.kvmAbi = config.kvm_abi ?? DEFAULT_KVM_ABI
    this.seed = config.seed
    this.memslots = new Memslots(config.memslots)
    this.code = compileProgram(config.program, config.type)
    if (state === undefined) this.boot()
    else this.load(state)
  }

  /** Validates the config (memslots, program, vcpus) and boots every vCPU at its first op. */
  static create (config: VmConfig, limits: VmLimits = {}): Vm {
    return new Vm(validateConfig(config, limits))
  }

  static restore (snapshot: VmSnapshot, limits: VmLimits = {}): Vm {
    if (typeof snapshot !== 'object' || snapshot === null || snapshot.version !== 1) {
      throw badConfig('a VM snapshot must be { version: 1, config, state }')
    }
    const config = validateConfig(snapshot.config, limits)
    const state = snapshot.state as CoreState
    if (typeof state !== 'object' || state === null || !Number.isSafeInteger(state.nextExit) ||
        !Array.isArray(state.vcpus) || state.vcpus.length !== config.vcpus) {
      throw badConfig('snapshot state does not match its config')
    }
    try {
      return new Vm(config, structuredClone(state))
    } catch (e) {
      if (e instanceof KvmError) throw e
      throw badConfig(`snapshot state is corrupt: ${(e as Error).message}`)
    }
  }

  snapshot (): VmSnapshot {
    const state: CoreState = {
      nextExit: this.nextExit,
      attributes: this.attrs.toJSON(),
      backing: this.store.toJSON(),
      vcpus: this.cpus.map(v => v.toJSON())
    }
    return { version: 1, config: structuredClone(this.config), state }
  }

  private supportedAttributes (): number {
    // kvm_supported_mem_attributes: PRIVATE only where the VM type has private memory.
    return this.type === 'default' ? 0 : KVM_MEMORY_ATTRIBUTE_PRIVATE
  }

  /** Boot: QEMU marks every guest_memfd slot private when it creates it; the rest is shared. */
  private boot (): void {
    this.attrs = new AttributeMap(this.supportedAttributes())
    if (this.config.initial_attributes === 'private') {
      for (const s of this.memslots.guestMemfdSlots()) this.attrs.setRange(s.baseGfn, s.endGfn, KVM_MEMORY_ATTRIBUTE_PRIVATE)
    }
    this.store = new Backing()
    this.fault = new FaultPath(this.type, this.gpaw, this.memslots, this.attrs, this.store)
    this.cpus = []
    for (let i = 0; i < this.config.vcpus; i++) this.cpus.push(new Vcpu(i, this))
  }

  private load (s: CoreState): void {
    this.nextExit = s.nextExit
    this.attrs = AttributeMap.fromJSON(this.supportedAttributes(), s.attributes)
    this.store = Backing.fromJSON(s.backing)
    this.fault = new FaultPath(this.type, this.gpaw, this.memslots, this.attrs, this.store)
    this.cpus = s.vcpus.map((d, i) => new Vcpu(i, this, d))
  }

  // VcpuCore
  nextExitId (): number { return this.nextExit++ }

  convert (gpa: number, size: number, priv: boolean): void {
    try {
      this.attrs.set({ address: gpa, size, attributes: priv ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, flags: 0 })
    } catch (e) {
      if (e instanceof KvmError) throw new KvmError('INVALID_ACTION', `convert: ${e.message}`, e.errno === undefined ? {} : { errno: e.errno })
      throw e
    }
    // QEMU's kvm_convert_memory discards the old backing on every conversion.
    this.store.discard(gpa / PAGE_SIZE, (gpa + size) / PAGE_SIZE, priv)
  }

  /**
   * KVM_SET_MEMORY_ATTRIBUTES. Throws KvmError INVALID_ARGUMENT with errno EINVAL. Returns
   * false, with nothing changed, when the VM would then hold more than `maxExtents` extents
   * (attributes and backing): a host's cap, which KVM (one xarray entry per page) has not.
   */
  setMemoryAttributes (arg: MemoryAttributes, maxExtents = Infinity): boolean {
    let before: AttributeExtent[] | null = null
    try { before = this.attrs.extents(arg.address, arg.size) } catch { /* set() reports it */ }
    const startGfn = arg.address / PAGE_SIZE
    const endGfn = (arg.address + arg.size) / PAGE_SIZE
    const saved = before !== null && maxExtents !== Infinity ? this.store.save(startGfn, endGfn) : null
    this.attrs.set(arg)
    // Where a page really changed, the VMM discards the backing it left (as on a convert).
    const priv = (arg.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0
    for (const e of before ?? []) {
      if (e.attributes !== arg.attributes) this.store.discard(e.gpa / PAGE_SIZE, (e.gpa + e.size) / PAGE_SIZE, priv)
    }
    if (saved !== null && before !== null && this.extentCount > maxExtents) {
      for (const e of before) this.attrs.setRange(e.gpa / PAGE_SIZE, (e.gpa + e.size) / PAGE_SIZE, e.attributes)
      this.store.restore(saved)
      return false
    }
    return true
  }

  /** Attribute extents over [gpa, gpa + size), the whole guest physical space by default. */
  memoryAttributes (gpa = 0, size = GPA_LIMIT - gpa): AttributeExtent[] {
    return this.attrs.extents(gpa, size)
  }

  /**
   * At most `limit` attribute extents from gpa on, and the gpa the next page starts at
   * (null on the last): the work is bounded by `limit`, however fragmented the map.
   */
  memoryAttributesPage (gpa: number, size: number, limit: number): ExtentPage<AttributeExtent> {
    const out = this.attrs.extents(gpa, size, limit + 1)
    return cut(out, limit, null)
  }

  /** Backing state extents (populated shared / guest_memfd, poisoned) over a range. */
  backing (gpa = 0, size = GPA_LIMIT - gpa): BackingExtent[] {
    return this.backingPage(gpa, size, Infinity).extents
  }

  /** At most `limit` backing extents from gpa on, and where the next page starts (null on the last). */
  backingPage (gpa: number, size: number, limit: number): ExtentPage<BackingExtent> {
    const max = limit + 1
    const attrs = this.attrs.extents(gpa, size, max) // validates the range
    const s = gpa / PAGE_SIZE
    const lists = [
      attrs.map(a => ({ start: a.gpa / PAGE_SIZE, end: (a.gpa + a.size) / PAGE_SIZE, value: a.attributes })),
      this.store.shared.runs(s, (gpa + size) / PAGE_SIZE, max),
      this.store.private.runs(s, (gpa + size) / PAGE_SIZE, max),
      this.store.poisoned.runs(s, (gpa + size) / PAGE_SIZE, max)
    ]
    // Each list covers up to its last run's end (a cut list stops early): merge that far.
    let e = (gpa + size) / PAGE_SIZE
    for (const list of lists) { const last = list[list.length - 1]; if (last !== undefined && last.end < e) e = last.end }
    const idx = [0, 0, 0, 0]
    const out: BackingExtent[] = []
    let cur = s
    while (cur < e) {
      let next = e
      const v: number[] = []
      for (let k = 0; k < 4; k++) {
        const list = lists[k]!
        while (idx[k]! < list.length && list[idx[k]!]!.end <= cur) idx[k]!++
        const run = list[idx[k]!]
        if (run !== undefined && run.start <= cur) {
          v.push(run.value)
          if (run.end < next) next = run.end
        } else {
          v.push(0)
          if (run !== undefined && run.start < next) next = run.start
        }
      }
      const ext: BackingExtent = {
        gpa: cur * PAGE_SIZE,
        size: (next - cur) * PAGE_SIZE,
        attributes: v[0]!,
        shared_populated: v[1] !== 0,
        private_populated: v[2] !== 0,
        poisoned: v[3] !== 0
      }
      const prev = out[out.length - 1]
      if (prev !== undefined && prev.attributes === ext.attributes && prev.shared_populated === ext.shared_populated &&
          prev.private_populated === ext.private_populated && prev.poisoned === ext.poisoned) {
        prev.size += ext.size
      } else out.push(ext)
      cur = next
    }
    // Merged short of the range: the last extent may go on past e, so the next page starts it.
    const tail = e * PAGE_SIZE < gpa + size ? (out.pop() as BackingExtent) : null
    return cut(out, limit, tail === null ? null : tail.gpa)
  }

  /** Extents the VM holds (attributes and backing): what its memory map costs. */
  get extentCount (): number { return this.attrs.extentCount + this.store.extentCount }

  /** Hardware-poison the guest_memfd page holding gpa (memory_failure on a gmem folio). */
  poison (gpa: number): void {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa >= GPA_LIMIT) {
      throw new KvmError('INVALID_ARGUMENT', 'poison: gpa must be an integer below 2^52', { errno: 'EINVAL' })
    }
    const slot = this.memslots.findGpa(gpa)
    if (slot === null || !slot.guestMemfd) {
      throw new KvmError('INVALID_ARGUMENT', `poison targets guest_memfd pages; gpa ${gpa} is ${slot === null ? 'in no memslot' : `in memslot ${slot.slot}, which has no guest_memfd`}`, { errno: 'EINVAL' })
    }
    this.store.poison(Math.floor(gpa / PAGE_SIZE))
  }

  get vcpuCount (): number { return this.config.vcpus }

  private cpu (id: number): Vcpu {
    const v = Number.isInteger(id) ? this.cpus[id] : undefined
    if (v === undefined) throw new KvmError('VCPU_NOT_FOUND', `vCPU ${String(id)} does not exist (the VM has ${this.cpus.length})`)
    return v
  }

  vcpu (id: number): VcpuInfo { return this.cpu(id).info() }
  vcpus (): VcpuInfo[] { return this.cpus.map(v => v.info()) }

  /** Every vCPU's counters added up, without a copy per vCPU (a VM's REST view asks on every GET). */
  counterTotals (): VcpuCounters {
    const t: VcpuCounters = { accesses: 0, exits: 0, hypercall_errors: 0, machine_checks: 0, interrupts: 0 }
    for (const v of this.cpus) {
      const c = v.counters
      t.accesses += c.accesses
      t.exits += c.exits
      t.hypercall_errors += c.hypercall_errors
      t.machine_checks += c.machine_checks
      t.interrupts += c.interrupts
    }
    return t
  }

  /** What the guest last saw from a conversion hypercall (RAX, or TDVMCALL status and r11). */
  lastHypercall (vcpu: number): { ret: number, r11?: number } | null { return this.cpu(vcpu).lastHypercall }

  /** Runs one vCPU for at most `budget` steps (one memory access or op each). */
  run (vcpu: number, budget: number): StepResult {
    const v = this.cpu(vcpu)
    if (!Number.isSafeInteger(budget) || budget < 0) {
      throw new KvmError('INVALID_ARGUMENT', 'run: budget must be a non-negative integer', { errno: 'EINVAL' })
    }
    return v.run(budget)
  }

  /** Every exit that waits for a decision, oldest first. */
  pendingExits (): ExitRecord[] {
    const out: ExitRecord[] = []
    for (const v of this.cpus) { const p = v.pendingExit; if (p !== null) out.push(p) }
    return out.sort((a, b) => a.exit - b.exit)
  }

  /**
   * Records userspace's answer to a pending exit, as writing kvm_run does; it takes effect
   * when the vCPU next runs. Throws KvmError EXIT_NOT_PENDING or INVALID_ACTION (the exit
   * stays pending).
   */
  decide (vcpu: number, exit: number, decision: Decision): DecisionOutcome {
    return this.cpu(vcpu).decide(exit, decision)
  }

  /**
   * Throws what decide() would throw for this decision (EXIT_NOT_PENDING, INVALID_ACTION)
   * and changes nothing: for a caller that applies the decision later.
   */
  checkDecision (vcpu: number, exit: number, decision: Decision): void {
    this.cpu(vcpu).plan(exit, decision)
  }

  /** Makes an interrupt pending on a vCPU (the guest takes it at its next op boundary). */
  injectInterrupt (vcpu: number): void { this.cpu(vcpu).injectInterrupt() }

  /** Back to the boot state (memory, attributes, vCPUs) with exit ids still never reused. */
  reset (): void { this.boot() }
}

// Shared helpers for the KVM core tests: small VMs and driving a vCPU to its next exit.
import { Vm } from '../../../src/kvm/index.js'
import type { Decision, ExitRecord, MemslotConfig, VmConfig } from '../../../src/kvm/index.js'
import type { Program } from '../../../src/kvm/program/types.js'

export const MIB = 1024 * 1024
export const PAGE = 4096

export function config (over: Partial<VmConfig> & { program?: Program } = {}): VmConfig {
  const type = over.type ?? 'tdx'
  const slots: MemslotConfig[] = over.memslots ?? [{ slot: 0, gpa: 0, size: 16 * MIB, guest_memfd: type !== 'default' }]
  return {
    type,
    vcpus: 1,
    memslots: slots,
    initial_attributes: type === 'default' ? 'shared' : 'private',
    gpaw: 48,
    program: [],
    seed: 1,
    hypercall_exit: true,
    ...over
  }
}

export function vmWith (program: Program, over: Partial<VmConfig> = {}): Vm {
  return Vm.create(config({ ...over, program }))
}

/** Runs vCPU `vcpu` until it exits (returns the exit) or halts (returns null). */
export function nextExit (vm: Vm, vcpu = 0, budget = 1_000_000): ExitRecord | null {
  const r = vm.run(vcpu, budget)
  if (r.kind === 'exit') return r.exit
  if (r.kind === 'halted') return null
  throw new Error(`vCPU ${vcpu}: ${r.kind}, expected an exit or a halt`)
}

/** nextExit that must produce an exit. */
export function mustExit (vm: Vm, vcpu = 0): ExitRecord {
  const e = nextExit(vm, vcpu)
  if (e === null) throw new Error('the vCPU halted; expected an exit')
  return e
}

/** A VM for a preset: its own memslots, or one slot of memory_mib at 0 (guest_memfd on confidential types). */
export function presetConfig (p: { memory_mib: number, memslots?: MemslotConfig[], program: Program }, type: VmConfig['type'], vcpus = 2, seed = 7): VmConfig {
  return config({
    type,
    vcpus,
    seed,
    memslots: p.memslots ?? [{ slot: 0, gpa: 0, size: p.memory_mib * MIB, guest_memfd: type !== 'default' }],
    program: p.program
  })
}

/**
 * A deterministic VMM: converts where it can; kills on a fault that conversion cannot fix
 * on terminal events; injects #MC after EHWPOISON; otherwise resumes (IN/MMIO reads get data 0).
 */
export function vmmAnswer (vm: Vm, e: ExitRecord): Decision {
  if (e.reason === 'KVM_EXIT_MEMORY_FAULT' || e.reason === 'KVM_EXIT_HYPERCALL') {
    try {
      // Probe on a snapshot so a refused convert leaves nothing behind in `vm`.
      const probe = Vm.restore(JSON.parse(JSON.stringify(vm.snapshot())))
      probe.decide(e.vcpu, e.exit, { action: 'convert' })
      return { action: 'convert' }
    } catch {
      return e.run.ret === -1 && e.run.errno === 'EHWPOISON' ? { action: 'resume', inject: 'mce' } : { action: 'kill' }
    }
  }
  if (e.reason === 'KVM_EXIT_SYSTEM_EVENT') return { action: 'kill' }
  if (e.reason === 'KVM_EXIT_IO' && e.io?.direction === 0) return { action: 'resume', data: [0] }
  if (e.reason === 'KVM_EXIT_MMIO' && e.mmio?.is_write === false) return { action: 'resume', data: new Array(e.mmio.len).fill(0) }
  return { action: 'resume' }
}

/** Cheaper VMM for long runs: refuse-aware convert via try/catch on the real VM. */
export function decideLikeVmm (vm: Vm, e: ExitRecord): DecisionOutcomeLike {
  if (e.reason === 'KVM_EXIT_MEMORY_FAULT' || e.reason === 'KVM_EXIT_HYPERCALL') {
    try { return vm.decide(e.vcpu, e.exit, { action: 'convert' }) } catch {
      return vm.decide(e.vcpu, e.exit, e.run.ret === -1 && e.run.errno === 'EHWPOISON' ? { action: 'resume', inject: 'mce' } : { action: 'kill' })
    }
  }
  return vm.decide(e.vcpu, e.exit, vmmAnswer(vm, e))
}
type DecisionOutcomeLike = ReturnType<Vm['decide']>

/**
 * Runs every vCPU round-robin (budget steps each) until all halted or the VM is killed,
 * deciding each exit with decideLikeVmm. `swap` may replace the VM after any exit (snapshots).
 */
export function runAll (vm: Vm, opts: { budget?: number, maxExits?: number, swap?: (vm: Vm, n: number) => Vm } = {}): { exits: ExitRecord[], vm: Vm, outcome: string } {
  const budget = opts.budget ?? 997
  const maxExits = opts.maxExits ?? 50_000
  const exits: ExitRecord[] = []
  for (;;) {
    let live = 0
    for (let v = 0; v < vm.vcpuCount; v++) {
      const r = vm.run(v, budget)
      if (r.kind === 'halted') continue
      live++
      if (r.kind !== 'exit') continue
      exits.push(r.exit)
      if (exits.length > maxExits) return { exits, vm, outcome: 'limit' }
      if (opts.swap !== undefined) vm = opts.swap(vm, exits.length)
      const out = decideLikeVmm(vm, r.exit)
      if (out.vm !== 'continue') return { exits, vm, outcome: out.vm }
    }
    if (live === 0) return { exits, vm, outcome: 'halted' }
  }
}

// POST /v1/vms's body → the core's VmConfig: a preset or a program, memory as slots or a
// size, defaults per VM type, and this server's limits. The core validates the rest
// (memslots, the program) and names the failing field.
import { DEFAULT_KVM_ABI } from '../kvm/index.js'
import type { KvmAbi as CoreKvmAbi, MemslotConfig, VmConfig } from '../kvm/index.js'
import type { KvmAbi } from '../../schemas/vm.js'
import { getPreset } from '../kvm/program/presets/index.js'
import { validateProgram } from '../kvm/program/validate.js'
import { FaultlineError } from '../errors.js'
import type { CreateVmInput, Limits } from './types.js'

const MIB = 1024 * 1024

// The wire's kvm_abi names and the core's must be the same set: each assigns to the other.
const _abiToCore = (a: KvmAbi): CoreKvmAbi => a
const _abiFromCore = (a: CoreKvmAbi): KvmAbi => a

export function buildVmConfig (body: CreateVmInput, limits: Limits): { config: VmConfig, preset: string | null } {
  if (body.vcpus > limits.maxVcpus) throw new FaultlineError('LIMIT_EXCEEDED', `vcpus ${body.vcpus} is over this server's limit of ${limits.maxVcpus}`)
  if (body.program !== undefined && body.preset !== undefined) throw new FaultlineError('VALIDATION', 'give program or preset, not both')
  if (body.gpaw !== undefined && body.type !== 'tdx') throw new FaultlineError('INVALID_CONFIG', 'gpaw is for tdx VMs only')
  const gpaw = body.gpaw ?? 48
  const confidential = body.type !== 'default'

  let program: unknown = body.program ?? []
  let memslots: MemslotConfig[] | undefined
  let preset: string | null = null
  if (body.preset !== undefined) {
    const p = getPreset(body.preset)
    if (p === undefined) throw new FaultlineError('UNKNOWN_PRESET', `no preset ${JSON.stringify(body.preset)}`)
    if (!p.types.includes(body.type)) throw new FaultlineError('INVALID_CONFIG', `preset ${p.name} runs on ${p.types.join(', ')} VMs, not ${body.type}`)
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
  if (memslots === undefined) throw new FaultlineError('VALIDATION', 'memory is required (slots or size_mib) unless a preset gives it')
  if (memslots.length > limits.maxMemslots) throw new FaultlineError('LIMIT_EXCEEDED', `${memslots.length} memslots is over this server's limit of ${limits.maxMemslots}`)

  const config: VmConfig = {
    type: body.type,
    vcpus: body.vcpus,
    memslots,
    initial_attributes: body.initial_attributes ?? (confidential ? 'private' : 'shared'),
    gpaw,
    // The core names the failing field (INVALID_PROGRAM with its path).
    program: validateProgram(program, { type: body.type, gpaw, vcpus: body.vcpus, maxInstructions: limits.maxProgramOps }),
    seed: body.seed ?? 1,
    hypercall_exit: true,
    kvm_abi: body.kvm_abi ?? DEFAULT_KVM_ABI
  }
  return { config, preset }
}

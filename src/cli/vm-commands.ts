// `faultline vm ...` and `faultline presets`: one REST call (or a few) each, printed as text
// or, with --json, as the server's JSON.
import type { FaultlineClient } from '../client/client.js'
import { FaultlineApiError } from '../client/errors.js'
import type { CreateVmRequest, Instruction, JournalExit, VmInfo } from '../client/types.js'
import type { Command } from './args.js'
import { UsageError } from './args.js'
import { describeExit, formatBytes, formatTable, formatVm, formatVmList, hex } from './format.js'
import { formatMemoryMap, slotSpan } from './memory-bar.js'
import type { Output } from './output.js'
import type { ReadText } from './config.js'

/** A VM named by id, or by name (the API addresses VMs by id only). */
export async function resolveVm (client: FaultlineClient, ref: string): Promise<VmInfo> {
  try {
    return await client.getVm(ref)
  } catch (e) {
    if (!(e instanceof FaultlineApiError) || e.statusCode !== 404) throw e
    for await (const vm of client.allVms({ limit: 500 })) if (vm.name === ref) return vm
    throw e
  }
}

/** Reads --program: a JSON array of instructions. */
export function readProgram (path: string, read: ReadText): Instruction[] {
  const text = read(path)
  if (text === undefined) throw new UsageError(`cannot read the program file ${path}`)
  let program: unknown
  try { program = JSON.parse(text) } catch (e) { throw new UsageError(`${path} is not JSON: ${(e as Error).message}`) }
  if (!Array.isArray(program)) throw new UsageError(`${path}: a program is a JSON array of instructions`)
  return program as Instruction[]
}

export function formatJournalLine (e: JournalExit): string {
  const decision = e.decision === null ? 'pending' : `${e.decision.action} by ${e.decision.by}`
  return `#${e.exit} seq ${e.seq} vcpu ${e.vcpu} ${describeExit(e)} -> ${decision}`
}

export type VmCommand = Extract<Command, { kind: `vm-${string}` } | { kind: 'presets' }>

export async function runVmCommand (client: FaultlineClient, command: VmCommand, out: Output, read: ReadText): Promise<number> {
  const print = (json: unknown, text: () => string): void => { out.out(out.json ? JSON.stringify(json, null, 2) : text()) }
  switch (command.kind) {
    case 'vm-create': {
      const body: CreateVmRequest = { ...command.body }
      if (command.programFile !== undefined) body.program = readProgram(command.programFile, read)
      const vm = await client.createVm(body)
      print(vm, () => formatVm(vm))
      return 0
    }
    case 'vm-list': {
      const vms: VmInfo[] = []
      if (command.all) {
        for await (const vm of client.allVms({ ...(command.limit !== undefined ? { limit: command.limit } : {}) })) vms.push(vm)
      } else {
        vms.push(...(await client.listVms({ ...(command.limit !== undefined ? { limit: command.limit } : {}) })).items)
      }
      print(vms, () => formatVmList(vms))
      return 0
    }
    case 'vm-show': {
      const vm = await resolveVm(client, command.vm)
      print(vm, () => formatVm(vm))
      return 0
    }
    case 'vm-rm': {
      const vm = await resolveVm(client, command.vm)
      await client.deleteVm(vm.id)
      print({ deleted: vm.id }, () => `deleted ${vm.id}`)
      return 0
    }
    case 'vm-action': {
      const before = await resolveVm(client, command.vm)
      const vm = await client.action(before.id, command.action)
      print(vm, () => `${vm.id}: ${before.state} -> ${vm.state}`)
      return 0
    }
    case 'vm-memory': {
      const vm = await resolveVm(client, command.vm)
      const span = slotSpan(vm.memslots)
      const extents = await client.memoryAttributes(vm.id, span?.gpa, span?.size)
      print(extents, () => {
        const lines = span === undefined ? ['no memslots'] : [formatMemoryMap(extents, span, out.paint)]
        lines.push('', formatTable([
          ['GPA', 'END', 'SIZE', 'ATTRIBUTES'],
          ...extents.slice(0, 50).map((e) => [hex(e.gpa), hex(e.gpa + e.size), formatBytes(e.size), e.attributes === 0 ? 'shared' : 'private'])
        ]))
        if (extents.length > 50) lines.push(`... ${extents.length - 50} more extents (--json for all)`)
        return lines.join('\n')
      })
      return 0
    }
    case 'vm-exits': {
      const vm = await resolveVm(client, command.vm)
      const exits: JournalExit[] = []
      for await (const page of client.exitPages(vm.id, { limit: 500 })) exits.push(...page.items)
      print(exits, () => exits.length === 0 ? 'no exits' : exits.map(formatJournalLine).join('\n'))
      return 0
    }
    case 'presets': {
      const presets = await client.presets()
      print(presets, () => formatTable([
        ['NAME', 'TYPES', 'MEMORY', 'DESCRIPTION'],
        ...presets.map((p) => [p.name, (p.types ?? []).join(','), `${p.memory_mib} MiB`, p.description ?? ''])
      ]))
      return 0
    }
  }
}

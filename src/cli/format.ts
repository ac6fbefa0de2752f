// How the CLI prints things: pure functions from data to text, colour optional, so that every
// line the user sees is unit-tested. KVM names stay as KVM writes them.
import {
  KVM_EXIT_HYPERCALL, KVM_EXIT_IO, KVM_EXIT_IO_OUT, KVM_EXIT_MMIO, KVM_EXIT_SYSTEM_EVENT, SYSTEM_EVENT_NAMES
} from '../client/constants.js'
import type {
  DecidedMessage, ExitFields, StateMessage, VmInfo, VmState
} from '../client/types.js'
import { faultWantsPrivate, mapGpaRangeOf, memoryFaultOf } from '../../schemas/exit-reading.js'

// ---- colour ------------------------------------------------------------------------------

const ANSI = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const
export type Style = keyof typeof ANSI

/** Wraps text in ANSI styles when colour is on (a TTY without NO_COLOR), else leaves it. */
export type Paint = (text: string, ...styles: Style[]) => string
export const painter = (colour: boolean): Paint => (text, ...styles) =>
  !colour || styles.length === 0 ? text : `\x1b[${styles.map((s) => ANSI[s]).join(';')}m${text}\x1b[0m`

/** Colour when stdout is a terminal and NO_COLOR is not set (https://no-color.org). */
export const wantsColour = (isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean =>
  isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb'

// ---- numbers and names -------------------------------------------------------------------

export const hex = (n: number): string => `0x${n.toString(16)}`

/** KVM_EXIT_MEMORY_FAULT → MEMORY_FAULT, for tallies where the prefix is noise. */
export const shortReason = (reason: string): string => reason.replace(/^KVM_EXIT_/, '')

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1 && value % 1024 === 0) { value /= 1024; unit++ }
  return `${value} ${units[unit]}`
}

// ---- exits and events --------------------------------------------------------------------

/** One exit in a line: its reason and the payload fields that matter for deciding it. */
export function describeExit (exit: ExitFields): string {
  const fault = memoryFaultOf(exit)
  if (fault !== undefined) {
    return `${exit.reason} ${fault.errno} gpa=${hex(fault.gpa)} size=${hex(fault.size)} ${faultWantsPrivate(fault) ? 'private' : 'shared'}`
  }
  const stale = exit.memory_fault !== undefined ? ' (stale memory_fault ignored)' : ''
  const map = mapGpaRangeOf(exit)
  if (map !== undefined) {
    return `${exit.reason} MAP_GPA_RANGE gpa=${hex(map.gpa)} npages=${map.npages} to ${map.private ? 'private' : 'shared'}${stale}`
  }
  if (exit.exit_reason === KVM_EXIT_HYPERCALL && exit.hypercall !== undefined) return `${exit.reason} nr=${exit.hypercall.nr}${stale}`
  if (exit.exit_reason === KVM_EXIT_IO && exit.io !== undefined) {
    const io = exit.io
    const out = io.direction === KVM_EXIT_IO_OUT
    return `${exit.reason} ${out ? 'out' : 'in'} port=${hex(io.port)} size=${io.size} count=${io.count}${out ? ` data=[${io.data.map(hex).join(',')}]` : ''}${stale}`
  }
  if (exit.exit_reason === KVM_EXIT_MMIO && exit.mmio !== undefined) {
    const m = exit.mmio
    return `${exit.reason} ${m.is_write ? 'write' : 'read'} phys_addr=${hex(m.phys_addr)} len=${m.len}${m.is_write ? ` data=[${m.data.map(hex).join(',')}]` : ''}${stale}`
  }
  if (exit.exit_reason === KVM_EXIT_SYSTEM_EVENT && exit.system_event !== undefined) {
    const type = exit.system_event.type
    return `${exit.reason} ${SYSTEM_EVENT_NAMES[type]?.replace('KVM_SYSTEM_EVENT_', '') ?? `type=${type}`}${stale}`
  }
  return `${exit.reason}${stale}`
}

/** HH:MM:SS.mmm of a Date, in local time: the watch view's timestamp. */
export const clockTime = (d: Date): string =>
  [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':') +
  '.' + String(d.getMilliseconds()).padStart(3, '0')

const STATE_STYLE: Record<VmState, Style> = {
  created: 'blue', running: 'green', paused: 'yellow', stopped: 'cyan', killed: 'red', crashed: 'red'
}
const ACTION_STYLE: Record<string, Style> = { convert: 'magenta', resume: 'green', kill: 'red' }

export function formatExitLine (exit: ExitFields, at: Date, paint: Paint): string {
  const reason = exit.reason === 'KVM_EXIT_MEMORY_FAULT' || exit.reason === 'KVM_EXIT_HYPERCALL' ? 'yellow' : 'cyan'
  return `${paint(clockTime(at), 'dim')} ${exit.vm} ${paint(`seq ${exit.seq}`, 'dim')} vcpu ${exit.vcpu} ` +
    `exit #${exit.exit} ${paint(describeExit(exit), reason)}`
}

export function formatDecidedLine (d: DecidedMessage, at: Date, paint: Paint): string {
  return `${paint(clockTime(at), 'dim')} ${d.vm} ${paint(`seq ${d.seq}`, 'dim')} ` +
    `decided #${d.exit} ${paint(d.action, ACTION_STYLE[d.action] ?? 'bold')} by ${d.by}`
}

/** State changes are the events that matter most: bold, coloured, marked with arrows. */
export function formatStateLine (s: StateMessage, at: Date, paint: Paint): string {
  const why = s.reason !== undefined && s.reason !== null && s.reason !== '' ? ` (${s.reason})` : ''
  return `${paint(clockTime(at), 'dim')} ${s.vm} ${paint(`seq ${s.seq}`, 'dim')} ` +
    paint(`==> ${s.state.toUpperCase()}${why}`, 'bold', STATE_STYLE[s.state] ?? 'bold')
}

// ---- tables ------------------------------------------------------------------------------

/** Left-aligned columns, two spaces apart. */
export function formatTable (rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  return rows.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join('  ')).join('\n')
}

export function formatVmList (vms: VmInfo[]): string {
  if (vms.length === 0) return 'no VMs'
  return formatTable([
    ['ID', 'NAME', 'TYPE', 'STATE', 'VCPUS'],
    ...vms.map((vm) => [vm.id, vm.name ?? '-', vm.type, vm.state, String(vm.vcpus)])
  ])
}

export function formatVm (vm: VmInfo): string {
  const lines = [
    `id        ${vm.id}`,
    `name      ${vm.name ?? '-'}`,
    `type      ${vm.type}`,
    `state     ${vm.state}`,
    `vcpus     ${vm.vcpus}`
  ]
  for (const slot of vm.memslots ?? []) {
    lines.push(`memslot   ${slot.slot}: ${hex(slot.gpa)}..${hex(slot.gpa + slot.size)} (${formatBytes(slot.size)})${slot.guest_memfd ? ' guest_memfd' : ''}`)
  }
  const rules = vm.policy?.rules?.length ?? 0
  const timeout = vm.policy?.decision_timeout_ms
  lines.push(`policy    ${rules} rule${rules === 1 ? '' : 's'}, decision timeout ${timeout === null || timeout === undefined ? 'none' : `${timeout} ms`}`)
  const counters = Object.entries(vm.counters ?? {})
  if (counters.length > 0) lines.push(`counters  ${counters.map(([k, v]) => `${k}=${v}`).join(' ')}`)
  return lines.join('\n')
}

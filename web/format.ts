// Exits and addresses as people read them: hex gpas, binary sizes, and each exit decoded
// into what it asks (reason, gpa, size, direction). No DOM, so tests run it in Node.
import {
  KVM_EXIT_IO_OUT, KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEMORY_EXIT_FLAG_PRIVATE, PAGE_SIZE,
  SYSTEM_EVENT_NAMES, TRANSITIONS
} from '../src/client/constants.js'
import type { ExitFields, VmAction, VmState } from '../src/client/types.js'

/** 0x-prefixed lower-case hex; gpas stay below 2^53, so numbers are exact. */
export const hex = (n: number): string => '0x' + Math.trunc(n).toString(16)

/** A byte count in the largest binary unit that divides it, else with two decimals. */
export function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${Number.isInteger(v) ? v : v.toFixed(2)} ${units[i] ?? 'B'}`
}

/** Reads hex ("0x1f000"), decimal, or a size with a unit ("2G", "4KiB"); NaN if unreadable. */
export function parseAddress (text: string): number {
  const s = text.trim().toLowerCase().replace(/_/g, '')
  if (/^0x[0-9a-f]+$/.test(s)) return parseInt(s.slice(2), 16)
  const m = /^(\d+)([kmgt]?)i?b?$/.exec(s)
  if (m === null) return NaN
  const shift = { '': 0, k: 10, m: 20, g: 30, t: 40 }[m[2] as '' | 'k' | 'm' | 'g' | 't']
  return Number(m[1]) * 2 ** shift
}

export type Direction = 'to private' | 'to shared' | 'in' | 'out' | 'read' | 'write' | ''

/** What an exit asks, decoded from its kvm_run payload. */
export interface DecodedExit {
  /** The KVM reason, plus the hypercall or system event it is. */
  what: string
  gpa: number | null
  size: number | null
  direction: Direction
  /** Port, data or event detail that does not fit the columns. */
  detail: string
  /** convert can apply: a memory fault (run.ret -1) or a MAP_GPA_RANGE hypercall. */
  convertible: boolean
}

export function decodeExit (e: ExitFields): DecodedExit {
  const none = { gpa: null, size: null, direction: '' as Direction, detail: '', convertible: false }
  // A suppressed fault leaves stale memory_fault data beside other payloads: it counts only
  // when KVM_RUN returned -1 (kvm-fidelity.md).
  if (e.run.ret === -1 && e.memory_fault !== undefined) {
    const f = e.memory_fault
    return {
      what: `${e.reason} ${e.run.errno}`,
      gpa: f.gpa,
      size: f.size,
      direction: (f.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) !== 0 ? 'to private' : 'to shared',
      detail: `flags ${hex(f.flags)}`,
      convertible: true
    }
  }
  if (e.hypercall !== undefined) {
    const h = e.hypercall
    if (h.nr === KVM_HC_MAP_GPA_RANGE) {
      const [gpa = 0, npages = 0, attrs = 0] = h.args
      return {
        what: `${e.reason} MAP_GPA_RANGE`,
        gpa,
        size: npages * PAGE_SIZE,
        direction: (attrs & KVM_MAP_GPA_RANGE_ENCRYPTED) !== 0 ? 'to private' : 'to shared',
        detail: `${npages} pages, attrs ${hex(attrs)}`,
        convertible: true
      }
    }
    return { ...none, what: `${e.reason} nr ${h.nr}`, detail: `args ${h.args.map(hex).join(' ')}` }
  }
  if (e.io !== undefined) {
    const io = e.io
    const out = io.direction === KVM_EXIT_IO_OUT
    return {
      ...none,
      what: e.reason,
      size: io.size * io.count,
      direction: out ? 'out' : 'in',
      detail: `port ${hex(io.port)}${out ? ' data ' + io.data.map(hex).join(' ') : ''}`
    }
  }
  if (e.mmio !== undefined) {
    const m = e.mmio
    return { ...none, what: e.reason, gpa: m.phys_addr, size: m.len, direction: m.is_write ? 'write' : 'read', detail: m.is_write ? `data ${m.data.map(hex).join(' ')}` : '' }
  }
  if (e.system_event !== undefined) {
    const name = SYSTEM_EVENT_NAMES[e.system_event.type]?.replace('KVM_SYSTEM_EVENT_', '') ?? String(e.system_event.type)
    return { ...none, what: `${e.reason} ${name}` }
  }
  return { ...none, what: e.reason }
}

export const VM_ACTIONS: readonly VmAction[] = ['start', 'pause', 'resume', 'stop', 'reset', 'kill']

export function actionAllowed (action: VmAction, state: VmState): boolean {
  return TRANSITIONS[action].includes(state)
}

/** A symbol beside each state so that the state never rests on colour alone. */
export const STATE_SYMBOL: Record<VmState, string> = {
  created: '○',
  running: '▶',
  paused: '❚❚',
  stopped: '■',
  killed: '✕',
  crashed: '⚠'
}

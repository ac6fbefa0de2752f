// Compiles a validated guest program to a flat code array the interpreter steps through:
// every op becomes one CodeOp of one shape (monomorphic for V8), repeat becomes a
// LOOP_START/LOOP_END pair with its own counter slot, and PROGRAM_DEFAULTS are applied here.
import { PROGRAM_DEFAULTS } from '../program/validate.js'
import type { Instruction, PageSizeName, Program } from '../program/types.js'
import type { VmType } from '../types.js'

export const OP_READ = 0
export const OP_WRITE = 1
export const OP_SWEEP = 2
export const OP_MAP_GPA = 3
export const OP_OUT = 4
export const OP_IN = 5
export const OP_MMIO_READ = 6
export const OP_MMIO_WRITE = 7
export const OP_HLT = 8
export const OP_SHUTDOWN = 9
export const OP_PANIC = 10
export const OP_LOOP_START = 11
export const OP_LOOP_END = 12
export const OP_RANDOM = 13
export const OP_PV_ACCESS = 14

export class CodeOp {
  k = 0
  /** First byte for vCPU 0; vCPU n adds n * vstride. */
  gpa = 0
  vstride = 0
  /** Bytes per access (read/write/pv_access/sweep touch), len (mmio), size (io), range (sweep/random). */
  size = 0
  /** sweep: bytes between touches; random/sweep: number of steps (touches, iterations). */
  stride = 0
  n = 0
  /** SNP: the C-bit of the access. */
  cbit = true
  /** TDX: the access sets the shared bit (`private: false`). */
  tdxShared = false
  write = false
  /** map_gpa: direction; page size; SNP protocol. */
  priv = false
  pageSize: PageSizeName = '4k'
  msr = false
  /** SNP GHCB protocol: entries per page state change request (random's conversions too). */
  pscEntries: number = PROGRAM_DEFAULTS.psc_entries
  /** out/in/mmio: port and value. */
  port = 0
  value = 0
  /** Loops: counter slot, jump target (LOOP_START → its LOOP_END, LOOP_END → its LOOP_START), count (-1 forever). */
  loop = 0
  target = 0
  count = 0
  /** random: ratios. */
  privateRatio = 0
  writeRatio = 0
  mapRatio = 0
}

export interface Code {
  ops: CodeOp[]
  /** Number of loop counter slots. */
  loops: number
}

export function compileProgram (program: Program, type: VmType): Code {
  const ops: CodeOp[] = []
  let loops = 0
  const emit = (k: number): CodeOp => { const o = new CodeOp(); o.k = k; ops.push(o); return o }

  const access = (o: CodeOp, priv: boolean | undefined): void => {
    // SNP: an absent `private` is the C-bit set; TDX: only `private: false` adds the shared bit.
    o.cbit = priv ?? PROGRAM_DEFAULTS.private
    o.tdxShared = type === 'tdx' && priv === false
  }

  const list = (items: Instruction[]): void => {
    for (const i of items) {
      switch (i.op) {
        case 'read':
        case 'write': {
          const o = emit(i.op === 'read' ? OP_READ : OP_WRITE)
          o.gpa = i.gpa
          o.vstride = i.vcpu_stride ?? PROGRAM_DEFAULTS.vcpu_stride
          o.size = i.size ?? PROGRAM_DEFAULTS.size
          o.write = i.op === 'write'
          access(o, i.private)
          break
        }
        case 'sweep': {
          const o = emit(OP_SWEEP)
          o.gpa = i.gpa
          o.vstride = i.vcpu_stride ?? PROGRAM_DEFAULTS.vcpu_stride
          o.stride = i.stride ?? PROGRAM_DEFAULTS.stride
          o.n = Math.ceil(i.size / o.stride)
          o.size = PROGRAM_DEFAULTS.sweep_touch_size
          o.write = (i.access ?? PROGRAM_DEFAULTS.access) === 'write'
          access(o, i.private)
          break
        }
        case 'map_gpa': {
          const o = emit(OP_MAP_GPA)
          o.gpa = i.gpa
          o.vstride = i.vcpu_stride ?? PROGRAM_DEFAULTS.vcpu_stride
          o.n = i.npages
          o.priv = i.private
          o.pageSize = i.page_size ?? PROGRAM_DEFAULTS.page_size
          o.msr = (i.protocol ?? PROGRAM_DEFAULTS.protocol) === 'msr'
          o.pscEntries = i.psc_entries ?? PROGRAM_DEFAULTS.psc_entries
          break
        }
        case 'out':
        case 'in': {
          const o = emit(i.op === 'out' ? OP_OUT : OP_IN)
          o.port = i.port
          o.size = i.size
          o.value = i.op === 'out' ? i.value : 0
          break
        }
        case 'mmio_read':
        case 'mmio_write': {
          const o = emit(i.op === 'mmio_read' ? OP_MMIO_READ : OP_MMIO_WRITE)
          o.gpa = i.gpa
          o.vstride = i.vcpu_stride ?? PROGRAM_DEFAULTS.vcpu_stride
          o.size = i.len
          o.write = i.op === 'mmio_write'
          o.value = i.op === 'mmio_write' ? i.value : 0
          // Emulated MMIO is a shared access (TDX: the shared bit; SNP: C-bit clear).
          access(o, false)
          break
        }
        case 'hlt': emit(OP_HLT); break
        case 'shutdown': emit(OP_SHUTDOWN); break
        case 'panic': emit(OP_PANIC); break
        case 'repeat': {
          const start = emit(OP_LOOP_START)
          start.loop = loops++
          start.count = i.forever === true ? -1 : (i.count ?? 1)
          const startPc = ops.length - 1
          list(i.body)
          const end = emit(OP_LOOP_END)
          end.loop = start.loop
          end.target = startPc
          start.target = ops.length - 1
          break
        }
        case 'random': {
          const o = emit(OP_RANDOM)
          o.gpa = i.gpa
          o.vstride = i.vcpu_stride ?? PROGRAM_DEFAULTS.vcpu_stride
          o.size = i.size
          o.n = i.count
          o.privateRatio = i.private_ratio ?? PROGRAM_DEFAULTS.private_ratio
          o.writeRatio = i.write_ratio ?? PROGRAM_DEFAULTS.write_ratio
          o.mapRatio = i.map_ratio ?? PROGRAM_DEFAULTS.map_ratio
          break
        }
        case 'pv_access': {
          const o = emit(OP_PV_ACCESS)
          o.gpa = i.gpa
          o.vstride = i.vcpu_stride ?? PROGRAM_DEFAULTS.vcpu_stride
          o.size = PROGRAM_DEFAULTS.pv_access_size
          access(o, i.private)
          break
        }
      }
    }
  }
  list(program)
  return { ops, loops }
}

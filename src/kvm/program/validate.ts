// Validates a guest program (docs/spec/api-v1.md "Guest programs", the format in ./types.ts) against
// the VM it will run on, and returns it as a deep copy of plain data. Defaults are not
// filled in: the interpreter applies PROGRAM_DEFAULTS, so a stored program reads as written.
import { GPA_LIMIT, PAGE_SIZE, VMGEXIT_PSC_MAX_ENTRY } from '../constants.js'
import type { VmType } from '../types.js'
import { KvmError } from '../types.js'
import type { Instruction, OpName, Program } from './types.js'

export interface ProgramContext {
  type: VmType
  /** TDX only: places the shared bit (47 or 51). */
  gpaw: 48 | 52
  vcpus: number
  /** Total ops, counted recursively through repeat bodies (a repeat counts itself too). */
  maxInstructions: number
  /** Repeat nesting, default PROGRAM_LIMITS.maxDepth. */
  maxDepth?: number
}

/** The values the interpreter uses for fields a program leaves out. */
export const PROGRAM_DEFAULTS = Object.freeze({
  /** read/write: bytes per access. */
  size: 8,
  /** read/write/sweep/pv_access on SNP: the C-bit is set, as a guest maps its own memory. On TDX an absent `private` follows the gpa's shared bit. */
  private: true,
  /** Bytes between vCPU n's and vCPU n+1's addresses. */
  vcpu_stride: 0,
  /** sweep: bytes between touches. */
  stride: PAGE_SIZE,
  access: 'read',
  page_size: '4k',
  /** map_gpa on SNP: the page state change protocol. */
  protocol: 'ghcb',
  /** map_gpa on SNP (GHCB protocol): entries per page state change request, as Linux builds them. */
  psc_entries: VMGEXIT_PSC_MAX_ENTRY,
  private_ratio: 0.5,
  write_ratio: 0.5,
  map_ratio: 0.1,
  /** sweep: each touch accesses this many bytes at gpa + k * stride (never spans a page). */
  sweep_touch_size: 1,
  /** pv_access: the bytes KVM reads or writes on the guest's behalf (a steal-time record). */
  pv_access_size: 8
} as const)

/** Caps that keep one op's work bounded; see docs/programs.md. */
export const PROGRAM_LIMITS = Object.freeze({
  maxAccessSize: 2 ** 20,
  /** A 1 TiB sweep at 4 KiB stride. */
  maxSweepTouches: 2 ** 28,
  /** 2^52 bytes of 4 KiB pages. */
  maxNpages: 2 ** 40,
  maxRepeatCount: 2 ** 31,
  maxRandomCount: 2 ** 28,
  minRandomSize: PAGE_SIZE,
  /** psc_hdr.end_entry is a u16: a request names at most 65536 entries (KVM takes 253). */
  maxPscEntries: 2 ** 16,
  maxMmioLen: 8,
  maxPort: 0xffff,
  maxDepth: 8
} as const)

const FIELDS = {
  read: ['gpa', 'size', 'private', 'vcpu_stride'],
  write: ['gpa', 'size', 'private', 'vcpu_stride'],
  sweep: ['gpa', 'size', 'stride', 'access', 'private', 'vcpu_stride'],
  map_gpa: ['gpa', 'npages', 'private', 'page_size', 'protocol', 'psc_entries', 'vcpu_stride'],
  out: ['port', 'size', 'value'],
  in: ['port', 'size'],
  mmio_read: ['gpa', 'len', 'vcpu_stride'],
  mmio_write: ['gpa', 'len', 'value', 'vcpu_stride'],
  hlt: [],
  shutdown: [],
  panic: [],
  repeat: ['count', 'forever', 'body'],
  random: ['count', 'gpa', 'size', 'private_ratio', 'write_ratio', 'map_ratio', 'vcpu_stride'],
  pv_access: ['gpa', 'private', 'vcpu_stride']
} as const satisfies Record<OpName, readonly string[]>

const OP_NAMES = Object.keys(FIELDS) as OpName[]
const isOpName = (v: unknown): v is OpName => typeof v === 'string' && Object.hasOwn(FIELDS, v)

const IDENT = /^[A-Za-z_$][\w$]*$/
const join = (base: string, key: string): string =>
  IDENT.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`

const fail = (path: string, message: string): never => {
  throw new KvmError('INVALID_PROGRAM', message, { path })
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Reads one op's fields, copying each into `out` as it passes. */
class OpReader {
  readonly out: Record<string, unknown>
  constructor (readonly obj: Record<string, unknown>, readonly path: string, readonly op: OpName) {
    this.out = { op }
  }

  fail (field: string | null, message: string): never {
    return fail(field === null ? this.path : join(this.path, field), `${this.path} (${this.op}): ${message}`)
  }

  /** A field set to undefined counts as absent, as JSON.stringify would drop it. */
  has (field: string): boolean { return Object.hasOwn(this.obj, field) && this.obj[field] !== undefined }

  int (field: string, min: number, max: number, maxText: string, required: boolean): number | undefined {
    if (!this.has(field)) {
      if (required) this.fail(field, `${field} is required`)
      return undefined
    }
    const v = this.obj[field]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(field, `${field} must be an integer from ${min} to ${maxText}`)
    }
    this.out[field] = v
    return v as number
  }

  bool (field: string, required: boolean): boolean | undefined {
    if (!this.has(field)) {
      if (required) this.fail(field, `${field} is required`)
      return undefined
    }
    const v = this.obj[field]
    if (typeof v !== 'boolean') this.fail(field, `${field} must be true or false`)
    this.out[field] = v
    return v as boolean
  }

  oneOf<T extends string> (field: string, values: readonly T[]): T | undefined {
    if (!this.has(field)) return undefined
    const v = this.obj[field]
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      this.fail(field, `${field} must be one of ${values.map(x => JSON.stringify(x)).join(', ')}`)
    }
    this.out[field] = v
    return v as T
  }

  ratio (field: string): void {
    if (!this.has(field)) return
    const v = this.obj[field]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      this.fail(field, `${field} must be a number from 0 to 1`)
    }
    this.out[field] = v
  }
}

const GPA_MAX_TEXT = '2^52 - 1'

/** Where an op's addresses may lie on TDX, beside the shared bit. */
type TdxRule =
  | 'access' // either side of the shared bit, never across it
  | 'private-half' // below the shared bit: the interpreter sets it per access (random)
  | 'map' // each vCPU's start below the shared bit; the range may cross it (KVM answers INVALID_OPERAND)

class Validator {
  private readonly sharedBit: number
  private readonly maxDepth: number
  private count = 0

  constructor (private readonly ctx: ProgramContext) {
    this.sharedBit = 2 ** (ctx.gpaw - 1)
    this.maxDepth = ctx.maxDepth ?? PROGRAM_LIMITS.maxDepth
  }

  program (input: unknown): Program {
    if (!Array.isArray(input)) return fail('program', 'program must be an array of instructions')
    return this.list(input, 'program', 0)
  }

  private list (items: unknown[], path: string, depth: number): Instruction[] {
    const out: Instruction[] = []
    for (let i = 0; i < items.length; i++) out.push(this.instruction(items[i], `${path}[${i}]`, depth))
    return out
  }

  private instruction (item: unknown, path: string, depth: number): Instruction {
    this.count++
    if (this.count > this.ctx.maxInstructions) {
      fail(path, `${path}: the program has more than ${this.ctx.maxInstructions} instructions (ops inside repeat bodies count)`)
    }
    if (!isRecord(item)) return fail(path, `${path} must be an object with an "op" field`)
    if (!Object.hasOwn(item, 'op') || item.op === undefined) return fail(`${path}.op`, `${path}: op is required`)
    const op = item.op
    if (!isOpName(op)) {
      return fail(`${path}.op`, `${path}: unknown op ${JSON.stringify(op)}; expected one of ${OP_NAMES.join(', ')}`)
    }
    const r = new OpReader(item, path, op)
    const allowed: readonly string[] = FIELDS[op]
    for (const key of Object.keys(item)) {
      if (key !== 'op' && !allowed.includes(key) && item[key] !== undefined) r.fail(key, `unknown field ${JSON.stringify(key)}`)
    }
    switch (op) {
      case 'read':
      case 'write': this.access(r); break
      case 'sweep': this.sweep(r); break
      case 'map_gpa': this.mapGpa(r); break
      case 'out':
      case 'in': this.portIo(r); break
      case 'mmio_read':
      case 'mmio_write': this.mmio(r); break
      case 'hlt':
      case 'shutdown':
      case 'panic': break
      case 'repeat': this.repeat(r, depth); break
      case 'random': this.random(r); break
      case 'pv_access': this.pvAccess(r); break
    }
    return r.out as unknown as Instruction
  }

  private gpa (r: OpReader): number {
    const gpa = r.int('gpa', 0, GPA_LIMIT - 1, GPA_MAX_TEXT, true) as number
    if (this.ctx.type === 'tdx' && gpa >= 2 ** this.ctx.gpaw) {
      r.fail('gpa', `gpa must be below 2^${this.ctx.gpaw} (GPAW ${this.ctx.gpaw})`)
    }
    return gpa
  }

  private vcpuStride (r: OpReader): number {
    return r.int('vcpu_stride', 0, Number.MAX_SAFE_INTEGER, '2^53 - 1', false) ?? PROGRAM_DEFAULTS.vcpu_stride
  }

  /**
   * [gpa, gpa + extent) for every vCPU must fit the address space; `extentField` names the
   * field that sets the extent (null when it is fixed) so the error points at it.
   */
  private span (r: OpReader, gpa: number, extent: number, extentField: string | null, tdx: TdxRule): void {
    const stride = this.vcpuStride(r)
    const last = (this.ctx.vcpus - 1) * stride
    const extentText = extentField === null ? `${extent}` : extentField === 'npages' ? 'npages * 4096' : extentField
    let limit = GPA_LIMIT
    let limitText = '2^52'
    if (this.ctx.type === 'tdx') {
      const bit = this.ctx.gpaw - 1
      const carries = gpa >= this.sharedBit
      if (tdx !== 'access' && carries) {
        r.fail('gpa', `gpa must not carry the TDX shared bit (bit ${bit}); ${tdx === 'map' ? '`private` gives the direction' : 'private_ratio picks shared accesses'}`)
      }
      if (tdx === 'map') {
        if (gpa + last >= this.sharedBit) {
          r.fail('vcpu_stride', `gpa + (vcpus - 1) * vcpu_stride must not carry the TDX shared bit (bit ${bit}); vcpus = ${this.ctx.vcpus}`)
        }
      } else if (carries) {
        limit = 2 ** this.ctx.gpaw
        limitText = `2^${this.ctx.gpaw} (GPAW ${this.ctx.gpaw})`
      } else {
        limit = this.sharedBit
        limitText = `2^${bit} (the TDX shared bit: an access may not cross it)`
      }
    }
    if (gpa + extent > limit) r.fail(extentField ?? 'gpa', `gpa + ${extentText} must not exceed ${limitText}`)
    if (gpa + extent + last > limit) {
      r.fail('vcpu_stride', `gpa + ${extentText} + (vcpus - 1) * vcpu_stride must not exceed ${limitText}; vcpus = ${this.ctx.vcpus}`)
    }
  }

  /** On TDX a private access cannot name a gpa that carries the shared bit. */
  private privateFlag (r: OpReader, gpa: number): void {
    const priv = r.bool('private', false)
    if (this.ctx.type === 'tdx' && priv === true && gpa >= this.sharedBit) {
      r.fail('private', `private is true but gpa carries the TDX shared bit (bit ${this.ctx.gpaw - 1})`)
    }
  }

  private access (r: OpReader): void {
    const gpa = this.gpa(r)
    const size = r.int('size', 1, PROGRAM_LIMITS.maxAccessSize, '2^20 (1 MiB)', false) ?? PROGRAM_DEFAULTS.size
    this.privateFlag(r, gpa)
    this.span(r, gpa, size, 'size', 'access')
  }

  private sweep (r: OpReader): void {
    const gpa = this.gpa(r)
    const size = r.int('size', 1, GPA_LIMIT, '2^52', true) as number
    const stride = r.int('stride', 1, GPA_LIMIT, '2^52', false) ?? PROGRAM_DEFAULTS.stride
    r.oneOf('access', ['read', 'write'] as const)
    this.privateFlag(r, gpa)
    if (Math.ceil(size / stride) > PROGRAM_LIMITS.maxSweepTouches) {
      r.fail('size', 'a sweep touches ceil(size / stride) strides, at most 2^28 (1 TiB at a 4 KiB stride)')
    }
    this.span(r, gpa, size, 'size', 'access')
  }

  private mapGpa (r: OpReader): void {
    // An unaligned gpa is allowed on purpose: KVM answers it with -KVM_EINVAL (or ALIGN_ERROR).
    const gpa = this.gpa(r)
    const npages = r.int('npages', 1, PROGRAM_LIMITS.maxNpages, '2^40', true) as number
    r.bool('private', true)
    r.oneOf('page_size', ['4k', '2m', '1g'] as const)
    if (r.has('protocol') && this.ctx.type !== 'snp') {
      r.fail('protocol', `protocol applies only to snp VMs, not ${this.ctx.type}`)
    }
    const protocol = r.oneOf('protocol', ['msr', 'ghcb'] as const)
    if (r.has('psc_entries') && (this.ctx.type !== 'snp' || protocol === 'msr')) {
      r.fail('psc_entries', 'psc_entries applies only to snp VMs with the ghcb protocol')
    }
    // More than VMGEXIT_PSC_MAX_COUNT (253) is allowed so a program can meet KVM's header error.
    r.int('psc_entries', 1, PROGRAM_LIMITS.maxPscEntries, '65536', false)
    this.span(r, gpa, npages * PAGE_SIZE, 'npages', 'map')
  }

  private portIo (r: OpReader): void {
    r.int('port', 0, PROGRAM_LIMITS.maxPort, '65535 (0xffff)', true)
    if (!r.has('size')) r.fail('size', 'size is required')
    const size = r.obj.size
    if (size !== 1 && size !== 2 && size !== 4) return r.fail('size', 'size must be 1, 2 or 4')
    r.out.size = size
    if (r.op === 'out') r.int('value', 0, 2 ** (8 * size) - 1, `2^${8 * size} - 1 (it must fit in size bytes)`, true)
  }

  private mmio (r: OpReader): void {
    const gpa = this.gpa(r)
    const len = r.int('len', 1, PROGRAM_LIMITS.maxMmioLen, '8', true) as number
    if (r.op === 'mmio_write') {
      const max = len === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * len) - 1
      r.int('value', 0, max, len === 8 ? '2^53 - 1 (a safe integer)' : `2^${8 * len} - 1 (it must fit in len bytes)`, true)
    }
    this.span(r, gpa, len, 'len', 'access')
  }

  private repeat (r: OpReader, depth: number): void {
    if (depth + 1 > this.maxDepth) r.fail(null, `repeat nesting is deeper than ${this.maxDepth}`)
    if (r.has('count') && r.has('forever')) r.fail('forever', 'give either count or forever: true, not both')
    if (!r.has('count') && !r.has('forever')) r.fail('count', 'count (or forever: true) is required')
    r.int('count', 1, PROGRAM_LIMITS.maxRepeatCount, '2^31', false)
    if (r.has('forever') && r.obj.forever !== true) {
      r.fail('forever', 'forever must be true; use count for a bounded loop')
    }
    if (r.has('forever')) r.out.forever = true
    if (!r.has('body')) r.fail('body', 'body is required')
    const body = r.obj.body
    if (!Array.isArray(body)) return r.fail('body', 'body must be an array of instructions')
    const copy = this.list(body, join(r.path, 'body'), depth + 1)
    // A forever loop with no op that runs would spin without ever spending a step.
    if (r.out.forever === true && !hasStep(copy)) {
      r.fail('body', 'a forever loop needs at least one op other than repeat in its body')
    }
    r.out.body = copy
  }

  private random (r: OpReader): void {
    r.int('count', 1, PROGRAM_LIMITS.maxRandomCount, '2^28', true)
    const gpa = this.gpa(r)
    const size = r.int('size', PROGRAM_LIMITS.minRandomSize, GPA_LIMIT, '2^52', true) as number
    r.ratio('private_ratio')
    r.ratio('write_ratio')
    r.ratio('map_ratio')
    this.span(r, gpa, size, 'size', 'private-half')
  }

  private pvAccess (r: OpReader): void {
    const gpa = this.gpa(r)
    this.privateFlag(r, gpa)
    this.span(r, gpa, PROGRAM_DEFAULTS.pv_access_size, null, 'access')
  }
}

const hasStep = (body: Instruction[]): boolean =>
  body.some(i => i.op !== 'repeat' || hasStep(i.body))

/**
 * Checks `input` against the program format and the VM it will run on. Throws KvmError
 * INVALID_PROGRAM with `path` at the first offending field; returns a deep copy.
 */
export function validateProgram (input: unknown, ctx: ProgramContext): Program {
  return new Validator(ctx).program(input)
}

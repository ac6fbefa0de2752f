import t from 'tap'
import type { Test } from 'tap'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { KvmError } from '../../../src/kvm/types.js'
import type { VmType } from '../../../src/kvm/types.js'
import { validateProgram, PROGRAM_DEFAULTS } from '../../../src/kvm/program/validate.js'
import type { ProgramContext } from '../../../src/kvm/program/validate.js'
import { PRESETS } from '../../../src/kvm/program/presets/index.js'

const ctx = (type: VmType, over: Partial<ProgramContext> = {}): ProgramContext =>
  ({ type, gpaw: 48, vcpus: 1, maxInstructions: 10000, ...over })
const SNP = ctx('snp')
const TDX = ctx('tdx')
const TDX52 = ctx('tdx', { gpaw: 52 })
const P52 = 2 ** 52

/** Asserts the program is refused with INVALID_PROGRAM at exactly `path`; returns the message. */
function rejects (t: Test, program: unknown, c: ProgramContext, path: string): string {
  try {
    validateProgram(program, c)
  } catch (err) {
    t.ok(err instanceof KvmError, 'a KvmError')
    const e = err as KvmError
    t.equal(e.code, 'INVALID_PROGRAM')
    t.equal(e.path, path)
    return e.message
  }
  t.fail(`accepted, expected an error at ${path}`)
  return ''
}
const accepts = (t: Test, program: unknown, c: ProgramContext): void => {
  t.doesNotThrow(() => validateProgram(program, c), JSON.stringify(program))
}

void t.test('an empty program is valid', async t => {
  t.same(validateProgram([], SNP), [])
})

void t.test('the program must be an array', async t => {
  for (const bad of [null, {}, 'read', 1]) rejects(t, bad, SNP, 'program')
})

void t.test('every instruction is an object with a known op', async t => {
  for (const bad of [null, [], 1, 'hlt']) rejects(t, [bad], SNP, 'program[0]')
  rejects(t, [{ gpa: 0 }], SNP, 'program[0].op')
  for (const op of ['jump', 'toString', '__proto__', 1, null]) rejects(t, [{ op }], SNP, 'program[0].op')
})

void t.test('messages name the op, its index and the field', async t => {
  const msg = rejects(t, [{ op: 'hlt' }, { op: 'hlt' }, { op: 'hlt' }, { op: 'map_gpa', gpa: 0, npages: 0, private: true }], SNP, 'program[3].npages')
  t.equal(msg, 'program[3] (map_gpa): npages must be an integer from 1 to 2^40')
})

void t.test('unknown fields are an error, named in the path', async t => {
  rejects(t, [{ op: 'read', gpa: 0, foo: 1 }], SNP, 'program[0].foo')
  rejects(t, [{ op: 'read', gpa: 0, 'a.b': 1 }], SNP, 'program[0]["a.b"]')
  rejects(t, [{ op: 'hlt', gpa: 0 }], SNP, 'program[0].gpa')
  rejects(t, [{ op: 'shutdown', reason: 'x' }], SNP, 'program[0].reason')
  rejects(t, [{ op: 'in', port: 1, size: 1, value: 3 }], SNP, 'program[0].value')
  rejects(t, [{ op: 'mmio_read', gpa: 0, len: 1, value: 3 }], SNP, 'program[0].value')
  rejects(t, [{ op: 'random', count: 1, gpa: 0, size: 4096, private: true }], SNP, 'program[0].private')
  rejects(t, [JSON.parse('{"op":"read","gpa":0,"__proto__":{"x":1}}')], SNP, 'program[0].__proto__')
})

void t.test('vcpu_stride is taken only by ops with a gpa', async t => {
  rejects(t, [{ op: 'out', port: 1, size: 1, value: 0, vcpu_stride: 4096 }], SNP, 'program[0].vcpu_stride')
  rejects(t, [{ op: 'repeat', count: 1, body: [], vcpu_stride: 4096 }], SNP, 'program[0].vcpu_stride')
  for (const op of ['read', 'write', 'pv_access', 'mmio_read']) {
    accepts(t, [{ op, gpa: 0, len: op.startsWith('mmio') ? 1 : undefined, vcpu_stride: 4096 }], ctx('snp', { vcpus: 4 }))
  }
  rejects(t, [{ op: 'read', gpa: 0, vcpu_stride: -1 }], SNP, 'program[0].vcpu_stride')
})

void t.test('integers are safe and non-negative', async t => {
  for (const gpa of [-1, 0.5, '0', 2 ** 53, Number.NaN, Infinity, P52, true]) {
    rejects(t, [{ op: 'read', gpa }], SNP, 'program[0].gpa')
  }
  accepts(t, [{ op: 'read', gpa: P52 - 8 }], SNP)
  rejects(t, [{ op: 'read' }], SNP, 'program[0].gpa')
})

void t.test('gpa + size must not exceed 2^52, for the last vCPU too', async t => {
  rejects(t, [{ op: 'read', gpa: P52 - 4 }], SNP, 'program[0].size')
  rejects(t, [{ op: 'write', gpa: P52 - 16, size: 17 }], SNP, 'program[0].size')
  accepts(t, [{ op: 'write', gpa: P52 - 16, size: 16 }], SNP)
  const four = ctx('snp', { vcpus: 4 })
  accepts(t, [{ op: 'read', gpa: P52 - 4 * 4096, size: 4096, vcpu_stride: 4096 }], four)
  const msg = rejects(t, [{ op: 'read', gpa: P52 - 4 * 4096, size: 4096, vcpu_stride: 4097 }], four, 'program[0].vcpu_stride')
  t.match(msg, /vcpus = 4/)
  rejects(t, [{ op: 'map_gpa', gpa: 4096, npages: 2 ** 40, private: true }], SNP, 'program[0].npages')
  rejects(t, [{ op: 'mmio_read', gpa: P52 - 2, len: 4 }], SNP, 'program[0].len')
  rejects(t, [{ op: 'pv_access', gpa: P52 - 7 }], SNP, 'program[0].gpa')
  accepts(t, [{ op: 'pv_access', gpa: P52 - 8 }], SNP)
})

void t.test('read/write: size from 1 to 1 MiB; an access may span pages', async t => {
  rejects(t, [{ op: 'read', gpa: 0, size: 0 }], SNP, 'program[0].size')
  rejects(t, [{ op: 'write', gpa: 0, size: 2 ** 20 + 1 }], SNP, 'program[0].size')
  accepts(t, [{ op: 'write', gpa: 4090, size: 2 ** 20 }], SNP)
  rejects(t, [{ op: 'read', gpa: 0, private: 1 }], SNP, 'program[0].private')
})

void t.test('sweep: size, stride, access, and at most 2^28 touches', async t => {
  rejects(t, [{ op: 'sweep', gpa: 0 }], SNP, 'program[0].size')
  rejects(t, [{ op: 'sweep', gpa: 0, size: 0 }], SNP, 'program[0].size')
  rejects(t, [{ op: 'sweep', gpa: 0, size: 4096, stride: 0 }], SNP, 'program[0].stride')
  rejects(t, [{ op: 'sweep', gpa: 0, size: 4096, access: 'exec' }], SNP, 'program[0].access')
  accepts(t, [{ op: 'sweep', gpa: 0, size: 2 ** 40, access: 'write', private: false }], SNP)
  rejects(t, [{ op: 'sweep', gpa: 0, size: 2 ** 40 + 1 }], SNP, 'program[0].size')
  accepts(t, [{ op: 'sweep', gpa: 0, size: 2 ** 41, stride: 8192 }], SNP)
  rejects(t, [{ op: 'sweep', gpa: P52 - 4096, size: 4097 }], SNP, 'program[0].size')
})

void t.test('map_gpa: npages, private, page_size; an unaligned gpa is the guest\'s to make', async t => {
  accepts(t, [{ op: 'map_gpa', gpa: 123, npages: 1, private: false }], SNP)
  accepts(t, [{ op: 'map_gpa', gpa: 0, npages: 2 ** 40, private: true, page_size: '1g' }], SNP)
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 2 ** 40 + 1, private: true }], SNP, 'program[0].npages')
  rejects(t, [{ op: 'map_gpa', gpa: 0, private: true }], SNP, 'program[0].npages')
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1 }], SNP, 'program[0].private')
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: 'yes' }], SNP, 'program[0].private')
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, page_size: '4K' }], SNP, 'program[0].page_size')
  accepts(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, page_size: '2m' }], TDX)
})

void t.test('map_gpa: protocol only on snp', async t => {
  accepts(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, protocol: 'msr' }], SNP)
  accepts(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, protocol: 'ghcb' }], SNP)
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, protocol: 'vmcall' }], SNP, 'program[0].protocol')
  for (const type of ['tdx', 'default', 'sw_protected'] as const) {
    const msg = rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, protocol: 'ghcb' }], ctx(type), 'program[0].protocol')
    t.match(msg, type)
  }
})

void t.test('map_gpa: psc_entries only on snp with the ghcb protocol, 1 .. 65536 (more than 253 is KVM\'s to refuse)', async t => {
  accepts(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, psc_entries: 253 }], SNP)
  accepts(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, protocol: 'ghcb', psc_entries: 65536 }], SNP)
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, psc_entries: 0 }], SNP, 'program[0].psc_entries')
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, psc_entries: 65537 }], SNP, 'program[0].psc_entries')
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, psc_entries: 1.5 }], SNP, 'program[0].psc_entries')
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, protocol: 'msr', psc_entries: 64 }], SNP, 'program[0].psc_entries')
  rejects(t, [{ op: 'map_gpa', gpa: 0, npages: 1, private: true, psc_entries: 64 }], TDX, 'program[0].psc_entries')
  t.equal(PROGRAM_DEFAULTS.psc_entries, 64, 'VMGEXIT_PSC_MAX_ENTRY, as Linux')
})

void t.test('tdx: map_gpa never carries the shared bit; the range may cross it (KVM answers)', async t => {
  rejects(t, [{ op: 'map_gpa', gpa: 2 ** 47, npages: 1, private: false }], TDX, 'program[0].gpa')
  accepts(t, [{ op: 'map_gpa', gpa: 2 ** 47, npages: 1, private: false }], TDX52)
  rejects(t, [{ op: 'map_gpa', gpa: 2 ** 51, npages: 1, private: false }], TDX52, 'program[0].gpa')
  accepts(t, [{ op: 'map_gpa', gpa: 2 ** 47 - 4096, npages: 2, private: true }], TDX)
  const two = ctx('tdx', { vcpus: 2 })
  accepts(t, [{ op: 'map_gpa', gpa: 2 ** 46, npages: 1, private: false, vcpu_stride: 2 ** 46 - 4096 }], two)
  rejects(t, [{ op: 'map_gpa', gpa: 2 ** 46, npages: 1, private: false, vcpu_stride: 2 ** 46 }], two, 'program[0].vcpu_stride')
})

void t.test('tdx: a gpa must be below 2^gpaw', async t => {
  const msg = rejects(t, [{ op: 'read', gpa: 2 ** 48 }], TDX, 'program[0].gpa')
  t.match(msg, 'GPAW 48')
  accepts(t, [{ op: 'read', gpa: 2 ** 48 }], TDX52)
  rejects(t, [{ op: 'mmio_write', gpa: 2 ** 48, len: 1, value: 0 }], TDX, 'program[0].gpa')
})

void t.test('tdx: an access may carry the shared bit, never with private: true, never across it', async t => {
  accepts(t, [{ op: 'read', gpa: 2 ** 47 }], TDX)
  accepts(t, [{ op: 'read', gpa: 2 ** 47, private: false }], TDX)
  accepts(t, [{ op: 'read', gpa: 0, private: false }], TDX)
  rejects(t, [{ op: 'write', gpa: 2 ** 47, private: true }], TDX, 'program[0].private')
  rejects(t, [{ op: 'sweep', gpa: 2 ** 51 + 4096, size: 4096, private: true }], TDX52, 'program[0].private')
  rejects(t, [{ op: 'pv_access', gpa: 2 ** 47, private: true }], TDX, 'program[0].private')
  rejects(t, [{ op: 'read', gpa: 2 ** 47 - 4, size: 8 }], TDX, 'program[0].size')
  rejects(t, [{ op: 'read', gpa: 2 ** 48 - 4, size: 8 }], TDX, 'program[0].size')
  rejects(t, [{ op: 'read', gpa: 2 ** 47 - 4096, size: 8, vcpu_stride: 4096 }], ctx('tdx', { vcpus: 2 }), 'program[0].vcpu_stride')
  rejects(t, [{ op: 'mmio_read', gpa: 2 ** 47 - 2, len: 4 }], TDX, 'program[0].len')
})

void t.test('tdx: random stays below the shared bit (private_ratio picks shared accesses)', async t => {
  rejects(t, [{ op: 'random', count: 1, gpa: 2 ** 47, size: 4096 }], TDX, 'program[0].gpa')
  rejects(t, [{ op: 'random', count: 1, gpa: 2 ** 47 - 4096, size: 8192 }], TDX, 'program[0].size')
  accepts(t, [{ op: 'random', count: 1, gpa: 2 ** 47 - 4096, size: 4096 }], TDX)
})

void t.test('private is accepted and ignored on default and sw_protected VMs', async t => {
  for (const type of ['default', 'sw_protected'] as const) {
    accepts(t, [{ op: 'read', gpa: 2 ** 47, private: true }, { op: 'sweep', gpa: 0, size: 8192, private: false }], ctx(type))
  }
})

void t.test('out/in: port, size 1|2|4, out value fits in size bytes', async t => {
  accepts(t, [{ op: 'out', port: 0xffff, size: 4, value: 0xffffffff }, { op: 'in', port: 0, size: 2 }], SNP)
  rejects(t, [{ op: 'out', port: 0x10000, size: 1, value: 0 }], SNP, 'program[0].port')
  rejects(t, [{ op: 'in', size: 1 }], SNP, 'program[0].port')
  rejects(t, [{ op: 'in', port: 1 }], SNP, 'program[0].size')
  for (const size of [0, 3, 8, '1', null]) rejects(t, [{ op: 'in', port: 1, size }], SNP, 'program[0].size')
  rejects(t, [{ op: 'out', port: 1, size: 1, value: 256 }], SNP, 'program[0].value')
  rejects(t, [{ op: 'out', port: 1, size: 2, value: 0x10000 }], SNP, 'program[0].value')
  rejects(t, [{ op: 'out', port: 1, size: 1 }], SNP, 'program[0].value')
})

void t.test('mmio: len 1..8, value fits in len bytes (a safe integer for len 8)', async t => {
  accepts(t, [{ op: 'mmio_write', gpa: 0xfeb00000, len: 8, value: Number.MAX_SAFE_INTEGER }], SNP)
  rejects(t, [{ op: 'mmio_write', gpa: 0, len: 8, value: 2 ** 53 }], SNP, 'program[0].value')
  rejects(t, [{ op: 'mmio_write', gpa: 0, len: 2, value: 0x10000 }], SNP, 'program[0].value')
  rejects(t, [{ op: 'mmio_write', gpa: 0, len: 2 }], SNP, 'program[0].value')
  for (const len of [0, 9, undefined, null]) rejects(t, [{ op: 'mmio_read', gpa: 0, len }], SNP, 'program[0].len')
})

void t.test('repeat: exactly one of count (1..2^31) or forever: true, and a body', async t => {
  accepts(t, [{ op: 'repeat', count: 2 ** 31, body: [] }], SNP)
  accepts(t, [{ op: 'repeat', forever: true, body: [{ op: 'hlt' }] }], SNP)
  rejects(t, [{ op: 'repeat', count: 1, forever: true, body: [{ op: 'hlt' }] }], SNP, 'program[0].forever')
  rejects(t, [{ op: 'repeat', body: [] }], SNP, 'program[0].count')
  for (const count of [0, 2 ** 31 + 1, 1.5]) rejects(t, [{ op: 'repeat', count, body: [] }], SNP, 'program[0].count')
  rejects(t, [{ op: 'repeat', forever: false, body: [{ op: 'hlt' }] }], SNP, 'program[0].forever')
  rejects(t, [{ op: 'repeat', count: 1 }], SNP, 'program[0].body')
  rejects(t, [{ op: 'repeat', count: 1, body: {} }], SNP, 'program[0].body')
  rejects(t, [{ op: 'repeat', count: 1, body: [{ op: 'read', gpa: -1 }] }], SNP, 'program[0].body[0].gpa')
})

void t.test('repeat forever must have an op that runs in its body', async t => {
  rejects(t, [{ op: 'repeat', forever: true, body: [] }], SNP, 'program[0].body')
  rejects(t, [{ op: 'repeat', forever: true, body: [{ op: 'repeat', count: 5, body: [] }] }], SNP, 'program[0].body')
  accepts(t, [{ op: 'repeat', forever: true, body: [{ op: 'repeat', count: 5, body: [{ op: 'in', port: 1, size: 1 }] }] }], SNP)
})

void t.test('repeat nesting is at most maxDepth (default 8)', async t => {
  const nest = (n: number): unknown => n === 0 ? { op: 'hlt' } : { op: 'repeat', count: 1, body: [nest(n - 1)] }
  accepts(t, [nest(8)], SNP)
  rejects(t, [nest(9)], SNP, 'program[0]' + '.body[0]'.repeat(8))
  rejects(t, [nest(3)], ctx('snp', { maxDepth: 2 }), 'program[0].body[0].body[0]')
  // Deep JSON is refused at the limit, long before the stack would matter.
  rejects(t, [nest(5000)], SNP, 'program[0]' + '.body[0]'.repeat(8))
})

void t.test('random: count, size >= 4096, ratios in [0, 1]', async t => {
  accepts(t, [{ op: 'random', count: 2 ** 28, gpa: 0, size: 4096, private_ratio: 0, write_ratio: 1, map_ratio: 0.3 }], SNP)
  rejects(t, [{ op: 'random', count: 0, gpa: 0, size: 4096 }], SNP, 'program[0].count')
  rejects(t, [{ op: 'random', count: 2 ** 28 + 1, gpa: 0, size: 4096 }], SNP, 'program[0].count')
  rejects(t, [{ op: 'random', gpa: 0, size: 4096 }], SNP, 'program[0].count')
  rejects(t, [{ op: 'random', count: 1, gpa: 0, size: 4095 }], SNP, 'program[0].size')
  rejects(t, [{ op: 'random', count: 1, gpa: 0 }], SNP, 'program[0].size')
  for (const [field, v] of [['private_ratio', -0.1], ['write_ratio', 1.1], ['map_ratio', '0.5'], ['map_ratio', null]] as const) {
    rejects(t, [{ op: 'random', count: 1, gpa: 0, size: 4096, [field]: v }], SNP, `program[0].${field}`)
  }
})

void t.test('the whole program holds at most maxInstructions ops, repeat bodies included', async t => {
  const c = ctx('snp', { maxInstructions: 5 })
  accepts(t, [{ op: 'hlt' }, { op: 'repeat', count: 9, body: [{ op: 'hlt' }, { op: 'hlt' }] }, { op: 'hlt' }], c)
  rejects(t, [{ op: 'hlt' }, { op: 'repeat', count: 9, body: [{ op: 'hlt' }, { op: 'hlt' }, { op: 'hlt' }, { op: 'hlt' }] }], c, 'program[1].body[3]')
  rejects(t, new Array(6).fill({ op: 'hlt' }), c, 'program[5]')
})

void t.test('a field set to undefined counts as absent (JSON would drop it)', async t => {
  t.same(validateProgram([{ op: 'read', gpa: 0, size: undefined, foo: undefined }], SNP), [{ op: 'read', gpa: 0 }])
  rejects(t, [{ op: undefined }], SNP, 'program[0].op')
})

void t.test('the result is a deep copy of the input with no defaults filled in', async t => {
  const input = [{ op: 'repeat', count: 2, body: [{ op: 'read', gpa: 4096 }] }, { op: 'map_gpa', gpa: 0, npages: 1, private: true }]
  const out = validateProgram(input, SNP)
  t.same(out, input)
  t.not(out[0], input[0])
  t.not((out[0] as { body: unknown[] }).body, input[0]!.body)
  t.notOk('size' in (out[0] as { body: object[] }).body[0]!)
  t.notOk('page_size' in out[1]!)
  t.equal(PROGRAM_DEFAULTS.size, 8)
  t.equal(PROGRAM_DEFAULTS.stride, 4096)
  t.equal(PROGRAM_DEFAULTS.protocol, 'ghcb')
})

const OPS = ['read', 'write', 'sweep', 'map_gpa', 'out', 'in', 'mmio_read', 'mmio_write', 'hlt', 'shutdown', 'panic', 'repeat', 'random', 'pv_access', 'bogus']
const FIELD_NAMES = ['gpa', 'size', 'private', 'vcpu_stride', 'stride', 'access', 'npages', 'page_size', 'protocol', 'port', 'value', 'len', 'count', 'forever', 'body', 'private_ratio', 'write_ratio', 'map_ratio', 'extra']
const near = fc.letrec(tie => ({
  op: fc.record({
    op: fc.constantFrom(...OPS),
    fields: fc.dictionary(fc.constantFrom(...FIELD_NAMES), fc.oneof(
      fc.constantFrom(0, 1, 2, 4, 8, 4096, 2 ** 47, 2 ** 52, -1, 0.5, true, false, 'read', 'msr', '2m', null),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.double(),
      { arbitrary: tie('list'), weight: 1 }
    ), { maxKeys: 5 })
  }).map(({ op, fields }) => ({ ...fields, op })),
  list: fc.array(tie('op'), { maxLength: 4 })
}))
const types: VmType[] = ['default', 'sw_protected', 'snp', 'tdx']
const anyCtx = fc.record({
  type: fc.constantFrom(...types),
  gpaw: fc.constantFrom(48 as const, 52 as const),
  vcpus: fc.integer({ min: 1, max: 256 }),
  maxInstructions: fc.constant(50)
})

void t.test('arbitrary input only ever fails with KvmError INVALID_PROGRAM; what passes round-trips', async t => {
  const check = (input: unknown, c: ProgramContext): boolean => {
    try {
      const out = validateProgram(input, c)
      return isDeepStrictEqual(out, input)
    } catch (err) {
      return err instanceof KvmError && err.code === 'INVALID_PROGRAM' && typeof err.path === 'string' && err.path.startsWith('program')
    }
  }
  fc.assert(fc.property(fc.jsonValue(), anyCtx, (v, c) => check(v, c)), { numRuns: 500 })
  fc.assert(fc.property(near.list, anyCtx, (v, c) => check(v, c)), { numRuns: 3000 })
  // Presets with one field changed or removed: near the boundary between valid and not.
  const value = fc.oneof(fc.constantFrom(0, 1, 3, 4096, 2 ** 31, 2 ** 47, 2 ** 52 - 1, -1, 1.5, 'read', 'msr', '1g', true, null, []), fc.nat())
  const mutant = fc.tuple(fc.constantFrom(...PRESETS), fc.nat(), fc.constantFrom(...FIELD_NAMES, 'op'), fc.option(value, { nil: undefined }))
    .map(([p, at, field, v]) => {
      const program = structuredClone(p.program) as unknown as Array<Record<string, unknown>>
      const all: Array<Record<string, unknown>> = []
      const walk = (ops: Array<Record<string, unknown>>): void => {
        for (const o of ops) { all.push(o); if (Array.isArray(o.body)) walk(o.body as Array<Record<string, unknown>>) }
      }
      walk(program)
      const target = all[at % all.length]!
      if (v === undefined) Reflect.deleteProperty(target, field)
      else target[field] = v
      return program
    })
  let passed = 0
  fc.assert(fc.property(mutant, anyCtx, (v, c) => {
    try { validateProgram(v, c); passed++ } catch { /* checked below */ }
    return check(v, c)
  }), { numRuns: 3000 })
  t.ok(passed > 100, `some mutants are valid (${passed})`)
})

void t.test('every preset validates for each of its types, for 1 and 256 vCPUs', async t => {
  for (const p of PRESETS) {
    for (const type of p.types) {
      for (const gpaw of type === 'tdx' ? [48, 52] as const : [48] as const) {
        for (const vcpus of [1, 256]) {
          t.doesNotThrow(() => validateProgram(p.program, { type, gpaw, vcpus, maxInstructions: 10000 }), `${p.name} on ${type}/${gpaw} x${vcpus}`)
        }
      }
    }
  }
})

// How the page decodes exits and reads addresses: what a person sees in the exit table.
import t from 'tap'
import { actionAllowed, bytes, decodeExit, hex, parseAddress } from '../../web/format.js'
import type { ExitFields } from '../../src/client/types.js'

const base = { vm: 'vm_x', seq: 1, exit: 1, vcpu: 0 }

void t.test('memory faults: gpa, size and the direction asked; stale data is not a fault', async t => {
  const fault = (flags: number): ExitFields => ({ ...base, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39, run: { ret: -1, errno: 'EFAULT' }, memory_fault: { flags, gpa: 0x40000000, size: 4096 } })
  t.match(decodeExit(fault(8)), { what: 'KVM_EXIT_MEMORY_FAULT EFAULT', gpa: 0x40000000, size: 4096, direction: 'to private', convertible: true })
  t.match(decodeExit(fault(0)), { direction: 'to shared' })
  const stale: ExitFields = { ...base, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, memory_fault: { flags: 8, gpa: 1, size: 4096 }, io: { direction: 1, size: 2, port: 0xc050, count: 1, data: [0] } }
  t.match(decodeExit(stale), { what: 'KVM_EXIT_IO', direction: 'out', gpa: null, detail: 'port 0xc050 data 0x0', convertible: false })
})

void t.test('MAP_GPA_RANGE: args decoded into range and direction', async t => {
  const hc = (attrs: number): ExitFields => ({ ...base, reason: 'KVM_EXIT_HYPERCALL', exit_reason: 3, run: { ret: 0 }, hypercall: { nr: 12, args: [0x40200000, 512, attrs, 0, 0, 0], ret: 0, flags: 1 } })
  t.match(decodeExit(hc(0)), { what: 'KVM_EXIT_HYPERCALL MAP_GPA_RANGE', gpa: 0x40200000, size: 2 * 2 ** 20, direction: 'to shared', convertible: true })
  t.match(decodeExit(hc(0x10)), { direction: 'to private' })
  const other: ExitFields = { ...base, reason: 'KVM_EXIT_HYPERCALL', exit_reason: 3, run: { ret: 0 }, hypercall: { nr: 5, args: [1], ret: 0, flags: 1 } }
  t.match(decodeExit(other), { what: 'KVM_EXIT_HYPERCALL nr 5', convertible: false })
})

void t.test('IO IN, MMIO and system events', async t => {
  t.match(decodeExit({ ...base, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 0, size: 1, port: 0xc053, count: 1, data: [] } }), { direction: 'in', size: 1, detail: 'port 0xc053' })
  t.match(decodeExit({ ...base, reason: 'KVM_EXIT_MMIO', exit_reason: 6, run: { ret: 0 }, mmio: { phys_addr: 0xfee00000, len: 4, is_write: true, data: [1, 0, 0, 0] } }), { gpa: 0xfee00000, size: 4, direction: 'write' })
  t.match(decodeExit({ ...base, reason: 'KVM_EXIT_MMIO', exit_reason: 6, run: { ret: 0 }, mmio: { phys_addr: 0x1000, len: 4, is_write: false, data: [] } }), { direction: 'read', detail: '' })
  t.match(decodeExit({ ...base, reason: 'KVM_EXIT_SYSTEM_EVENT', exit_reason: 24, run: { ret: 0 }, system_event: { type: 7, ndata: 0, data: [] } }), { what: 'KVM_EXIT_SYSTEM_EVENT TDX_FATAL' })
  t.match(decodeExit({ ...base, reason: 'KVM_EXIT_SHUTDOWN', exit_reason: 8, run: { ret: 0 } }), { what: 'KVM_EXIT_SHUTDOWN', gpa: null })
})

void t.test('addresses and sizes', async t => {
  t.equal(hex(0x40000000), '0x40000000')
  t.equal(hex(2 ** 52 - 4096), '0xffffffffff000')
  t.equal(bytes(2 * 2 ** 20), '2 MiB')
  t.equal(bytes(1536), '1.50 KiB')
  t.equal(bytes(2 ** 40), '1 TiB')
  t.equal(parseAddress(' 0x4000_0000 '), 0x40000000)
  t.equal(parseAddress('2G'), 2 * 2 ** 30)
  t.equal(parseAddress('4KiB'), 4096)
  t.equal(parseAddress('123'), 123)
  t.ok(Number.isNaN(parseAddress('0xzz')))
})

void t.test('the lifecycle table', async t => {
  t.ok(actionAllowed('start', 'created'))
  t.notOk(actionAllowed('start', 'running'))
  t.ok(actionAllowed('kill', 'crashed'))
  t.notOk(actionAllowed('kill', 'killed'))
  t.ok(actionAllowed('reset', 'stopped'))
  t.notOk(actionAllowed('resume', 'running'))
})

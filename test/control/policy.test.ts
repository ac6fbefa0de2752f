import t from 'tap'
import { firstMatch, normalizePolicy, ruleMatches, ruleDecision } from '../../src/control/policy.js'
import { EventBus } from '../../src/control/bus.js'
import type { ExitRecord } from '../../src/kvm/index.js'
import type { ControlEvent } from '../../src/control/index.js'

const mapGpa = (attrs: number): ExitRecord => ({
  exit: 1, vcpu: 0, reason: 'KVM_EXIT_HYPERCALL', exit_reason: 3, run: { ret: 0 },
  hypercall: { nr: 12, args: [0, 1, attrs, 0, 0, 0], ret: 0, flags: 1 }
})
const poison: ExitRecord = { exit: 2, vcpu: 0, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39, run: { ret: -1, errno: 'EHWPOISON' }, memory_fault: { flags: 8, gpa: 0, size: 4096 } }
const io: ExitRecord = { exit: 3, vcpu: 0, reason: 'KVM_EXIT_IO', exit_reason: 2, run: { ret: 0 }, io: { direction: 1, size: 1, port: 1, count: 1, data: [0] } }

void t.test('rules match reason, then errno and the direction asked', async t => {
  t.ok(ruleMatches({ reason: 'KVM_EXIT_HYPERCALL', action: 'convert', private: true }, mapGpa(0x10)), 'ENCRYPTED asks for private')
  t.notOk(ruleMatches({ reason: 'KVM_EXIT_HYPERCALL', action: 'convert', private: true }, mapGpa(0)))
  t.ok(ruleMatches({ reason: 'KVM_EXIT_MEMORY_FAULT', action: 'kill', errno: 'EHWPOISON', private: true }, poison))
  t.notOk(ruleMatches({ reason: 'KVM_EXIT_MEMORY_FAULT', action: 'kill', errno: 'EFAULT' }, poison))
  t.notOk(ruleMatches({ reason: 'KVM_EXIT_IO', action: 'resume', errno: 'EFAULT' }, io), 'errno needs a memory fault')
  t.notOk(ruleMatches({ reason: 'KVM_EXIT_IO', action: 'resume', private: false }, io), 'no direction, no match')
  const p = normalizePolicy({ rules: [{ reason: 'KVM_EXIT_HLT', action: 'resume' }, { reason: 'KVM_EXIT_IO', action: 'resume', ret: 5 }] })
  t.match(firstMatch(p, io), { ret: 5 })
  t.equal(firstMatch(normalizePolicy(undefined), io), undefined)
  t.same(normalizePolicy(undefined), { decision_timeout_ms: null, on_timeout: 'kill', rules: [] })
  t.same(ruleDecision({ reason: 'KVM_EXIT_IO', action: 'resume', ret: 3, data: [1] }), { action: 'resume', ret: 3, data: [1] })
  t.same(ruleDecision({ reason: 'KVM_EXIT_IO', action: 'convert', ret: 3 }), { action: 'convert' }, 'ret means nothing to convert')
})

void t.test('the bus delivers by vm, tenant and all, and unsubscribes cleanly', async t => {
  const errors: unknown[] = []
  const bus = new EventBus({ warn: () => {}, error: (o) => errors.push(o) })
  const got: string[] = []
  const e: ControlEvent = { vm: 'v1', tenant: 'a', seq: 1, type: 'state', frame: '{}' }
  const offVm = bus.subscribe({ vm: 'v1' }, () => got.push('vm'))
  const offTenant = bus.subscribe({ tenant: 'a' }, () => got.push('tenant'))
  bus.subscribe({ all: true }, () => { throw new Error('boom') })
  bus.publish(e)
  bus.publish({ ...e, vm: 'v2', tenant: 'b' })
  t.same(got, ['vm', 'tenant'])
  t.equal(errors.length, 2, 'a throwing listener is reported, the others still run')
  offVm(); offVm(); offTenant()
  bus.publish(e)
  t.same(got, ['vm', 'tenant'])
})

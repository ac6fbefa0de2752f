// control/'s counters for /metrics: what a convert of an exit converts, and where each
// exit and decision is counted.
import t from 'tap'
import type { ExitRecord } from '../../src/kvm/index.js'
import {
  KVM_EXIT_HYPERCALL, KVM_EXIT_IO, KVM_EXIT_MEMORY_FAULT, KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEMORY_EXIT_FLAG_PRIVATE
} from '../../src/kvm/index.js'
import { ControlStats, convertSpan, DECISION_SOURCES, EXIT_REASONS, LATENCY_BUCKETS } from '../../src/control/stats.js'

const base = { exit: 1, vcpu: 0, run: { ret: 0 } } as const

void t.test('convertSpan: the range a convert of the exit converts, signed by direction', async t => {
  const fault = (flags: number): ExitRecord => ({ ...base, reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: KVM_EXIT_MEMORY_FAULT, run: { ret: -1, errno: 'EFAULT' }, memory_fault: { flags, gpa: 0, size: 8192 } })
  const mapGpa = (attrs: number): ExitRecord => ({ ...base, reason: 'KVM_EXIT_HYPERCALL', exit_reason: KVM_EXIT_HYPERCALL, hypercall: { nr: KVM_HC_MAP_GPA_RANGE, args: [0, 3, attrs], ret: 0, flags: 0 } })
  t.equal(convertSpan(fault(KVM_MEMORY_EXIT_FLAG_PRIVATE)), 8192, 'a private fault converts to private')
  t.equal(convertSpan(fault(0)), -8192, 'a shared fault converts to shared')
  t.equal(convertSpan(mapGpa(KVM_MAP_GPA_RANGE_ENCRYPTED)), 3 * 4096, 'MAP_GPA_RANGE ENCRYPTED: npages to private')
  t.equal(convertSpan(mapGpa(0)), -3 * 4096, 'MAP_GPA_RANGE without it: to shared')
  t.equal(convertSpan({ ...base, reason: 'KVM_EXIT_HYPERCALL', exit_reason: KVM_EXIT_HYPERCALL, hypercall: { nr: 1, args: [], ret: 0, flags: 0 } }), 0, 'another hypercall converts nothing')
  t.equal(convertSpan({ ...base, reason: 'KVM_EXIT_IO', exit_reason: KVM_EXIT_IO }), 0)
})

void t.test('ControlStats: exits by reason, decisions by action and source, latency buckets, conversions', async t => {
  const s = new ControlStats()
  s.exit('KVM_EXIT_IO')
  s.exit('KVM_EXIT_IO')
  t.equal(s.exits[EXIT_REASONS.indexOf('KVM_EXIT_IO')], 2)
  s.decision('convert', 'controller', 0.003, -4096)
  s.decision('convert', 'controller', 1000, 0)
  s.decision('resume', 'rest', 0, 4096)
  const ctl = DECISION_SOURCES.indexOf('controller')
  t.equal(s.decisions[0]?.[ctl], 2)
  t.equal(s.decisions[1]?.[DECISION_SOURCES.indexOf('rest')], 1)
  const h = s.latency[ctl]
  t.equal(h?.count, 2)
  t.equal(h?.counts[LATENCY_BUCKETS.indexOf(0.005)], 1, '3 ms falls in the 5 ms bucket')
  t.equal(h?.counts[LATENCY_BUCKETS.length], 1, '1000 s falls in +Inf')
  t.same(s.conversions, [0, 1], 'one conversion to shared; a resume converts nothing')
  t.same(s.convertedBytes, [0, 4096])
  s.decision('bogus' as never, 'rule', 0, 0)
  t.equal(s.latency[DECISION_SOURCES.indexOf('rule')]?.count, 0, 'an action outside the set is not counted')
})

// Guest execution with no exits: a TDX vCPU sweeps and reads private memory that never
// faults, measured in simulated memory accesses per second (each one goes through the whole
// fault path: privacy from the shared bit, memslot, attribute, poison, population).
// Baseline, measured in the same run: a bare JS loop doing the same number of strided
// Uint8Array reads over a 64 MiB buffer (what one access costs with no simulation at all).
import { Vm } from '../src/kvm/index.js'
import type { VmConfig } from '../src/kvm/index.js'
import { median, progress, report, timeRounds } from './lib/report.js'

const PAGES = 16384 // 64 MiB of private guest memory
const SWEEPS = 8
const ACCESSES_PER_ROUND = PAGES * SWEEPS + PAGES * SWEEPS // sweeps plus 8-byte reads
const ROUNDS = 9
const TARGET = 5_000_000

function config (): VmConfig {
  return {
    type: 'tdx',
    vcpus: 1,
    memslots: [{ slot: 0, gpa: 0, size: PAGES * 4096, guest_memfd: true }],
    initial_attributes: 'private',
    gpaw: 48,
    seed: 1,
    hypercall_exit: true,
    program: [{
      op: 'repeat',
      forever: true,
      body: [
        { op: 'sweep', gpa: 0, size: PAGES * 4096, access: 'write' },
        { op: 'repeat', count: PAGES, body: [{ op: 'read', gpa: 8192 }] }
      ]
    }]
  }
}

const vm = Vm.create(config())
// Populate every page once, so the measured rounds never touch the population maps' edits.
vm.run(0, PAGES * 4)

let done = 0
const sim = timeRounds(ROUNDS, () => {
  // run()'s budget is work units (two per one-page access, one per loop op): run until the
  // round's accesses are done.
  const before = vm.vcpu(0).counters.accesses
  let left = ACCESSES_PER_ROUND
  while (left > 0) {
    const r = vm.run(0, Math.min(left, 1 << 20))
    if (r.kind !== 'yield') throw new Error(`unexpected ${r.kind}`)
    left = ACCESSES_PER_ROUND - (vm.vcpu(0).counters.accesses - before)
  }
  progress('guest-exec', ++done, ROUNDS + 1)
})
if (vm.vcpu(0).counters.exits !== 0) throw new Error('the benchmark guest must not exit')

const buf = new Uint8Array(PAGES * 4096)
let sink = 0
const base = timeRounds(ROUNDS, () => {
  let acc = 0
  for (let s = 0; s < SWEEPS * 2; s++) {
    for (let p = 0; p < PAGES; p++) acc += buf[p * 4096] as number
  }
  sink += acc
})
if (sink < 0) console.log(sink)

const simRate = ACCESSES_PER_ROUND / median(sim)
const baseRate = ACCESSES_PER_ROUND / median(base)
report('guest execution, no exits (TDX, private memory)', [
  {
    name: 'simulated accesses/s',
    value: simRate,
    unit: '/s',
    baseline: { name: 'bare Uint8Array strided reads', value: baseRate },
    target: `>= ${TARGET / 1e6}M/s`,
    pass: simRate >= TARGET
  }
])

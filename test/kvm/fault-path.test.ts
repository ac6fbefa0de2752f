// docs/spec/kvm-abi.md section 3 (memory model) and section 4 (the fault path), rule by rule.
import t from 'tap'
import { Vm, KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE, KVM_MEMORY_EXIT_FLAG_PRIVATE as FLAG_PRIVATE } from '../../src/kvm/index.js'
import type { Instruction } from '../../src/kvm/program/types.js'
import type { VmConfig } from '../../src/kvm/index.js'
import { config, MIB, nextExit, PAGE, vmWith } from './helpers/vm.js'

const SHARED48 = 2 ** 47
const SHARED52 = 2 ** 51

/** Two slots: [0, 1 MiB) with guest_memfd, [2 MiB, 3 MiB) without. Nothing above. */
const SLOTS = [
  { slot: 0, gpa: 0, size: MIB, guest_memfd: true },
  { slot: 1, gpa: 2 * MIB, size: MIB, guest_memfd: false }
]
const GMEM = 0x1000
const PLAIN = 2 * MIB + 0x1000
const NOSLOT = 8 * MIB

function one (op: Instruction, over: Partial<VmConfig> = {}, setup?: (vm: Vm) => void): { vm: Vm, exit: ReturnType<typeof nextExit> } {
  const vm = Vm.create(config({ memslots: over.type === 'default' ? SLOTS.map(s => ({ ...s, guest_memfd: false })) : SLOTS, ...over, program: [op] }))
  setup?.(vm)
  return { vm, exit: nextExit(vm) }
}

const mf = (errno: 'EFAULT' | 'EHWPOISON', flags: number, gpa: number) => ({
  reason: 'KVM_EXIT_MEMORY_FAULT', exit_reason: 39, run: { ret: -1, errno }, memory_fault: { flags, gpa, size: PAGE }
})

void t.test('§4.1 SW_PROTECTED: private iff the gfn attribute is private; the access cannot disagree', async t => {
  const type = 'sw_protected'
  t.equal(one({ op: 'write', gpa: GMEM, private: false }, { type }).exit, null, 'private page, access flagged shared: no mismatch, completes')
  const { vm } = one({ op: 'write', gpa: GMEM }, { type })
  t.match(vm.backing(GMEM, PAGE), [{ private_populated: true, shared_populated: false }], 'went to guest_memfd')
  const s = one({ op: 'write', gpa: PLAIN }, { type })
  t.match(s.vm.backing(PLAIN, PAGE), [{ private_populated: false, shared_populated: true }], 'a shared page goes to the shared backing')
  const p = one({ op: 'read', gpa: PLAIN }, { type }, vm => vm.setMemoryAttributes({ address: PLAIN, size: PAGE, attributes: PRIVATE, flags: 0 }))
  t.match(p.exit, mf('EFAULT', FLAG_PRIVATE, PLAIN), 'private attribute on a slot without guest_memfd: the access is private')
})

void t.test('§4.1 SNP: the access says (C-bit); §4.3 a mismatch gives MEMORY_FAULT EFAULT, flags = PRIVATE iff the access was private', async t => {
  const type = 'snp'
  t.equal(one({ op: 'read', gpa: GMEM }, { type }).exit, null, 'C-bit set (default) on a private page')
  t.match(one({ op: 'read', gpa: GMEM, private: false }, { type }).exit, mf('EFAULT', 0, GMEM), 'shared access to a private page: flags 0')
  t.match(one({ op: 'read', gpa: PLAIN + 8, private: true }, { type }).exit, mf('EFAULT', FLAG_PRIVATE, PLAIN), 'private access to a shared page: flags PRIVATE, gpa = gfn << 12')
  t.equal(one({ op: 'read', gpa: PLAIN, private: false }, { type }).exit, null, 'shared to shared')
})

void t.test('§4.1 TDX: private iff the shared bit is clear (bit 47 at GPAW 48, bit 51 at GPAW 52); stripped before anything else', async t => {
  const type = 'tdx'
  t.equal(one({ op: 'read', gpa: GMEM }, { type }).exit, null, 'no shared bit: private, page is private')
  t.match(one({ op: 'read', gpa: GMEM + SHARED48 }, { type }).exit, mf('EFAULT', 0, GMEM), 'bit 47 set: shared; memory_fault.gpa has the bit stripped')
  t.match(one({ op: 'read', gpa: GMEM, private: false }, { type }).exit, mf('EFAULT', 0, GMEM), 'private: false sets the shared bit')
  t.match(one({ op: 'read', gpa: PLAIN }, { type }).exit, mf('EFAULT', FLAG_PRIVATE, PLAIN), 'private access to a shared page')
  t.equal(one({ op: 'read', gpa: PLAIN + SHARED48 }, { type }).exit, null, 'shared access to a shared page completes')
  t.match(one({ op: 'read', gpa: GMEM + SHARED52 }, { type, gpaw: 52 }).exit, mf('EFAULT', 0, GMEM), 'GPAW 52: bit 51')
  t.match(one({ op: 'read', gpa: GMEM + SHARED48 }, { type, gpaw: 52 }).exit, mf('EFAULT', FLAG_PRIVATE, GMEM + SHARED48), 'GPAW 52: bit 47 is an ordinary address bit (no slot there: private, no memslot)')
})

void t.test('§4.1 DEFAULT: always shared', async t => {
  const type = 'default'
  t.equal(one({ op: 'write', gpa: GMEM, private: true }, { type }).exit, null, 'private flag ignored')
  t.match(one({ op: 'read', gpa: NOSLOT, private: true }, { type }).exit, { reason: 'KVM_EXIT_MMIO' }, 'no slot: MMIO even if flagged private')
})

void t.test('§4.2 no memslot, private access: MEMORY_FAULT EFAULT flags PRIVATE, gpa = gfn << 12, size 4096; not convertible', async t => {
  for (const type of ['sw_protected', 'snp', 'tdx'] as const) {
    const { vm, exit } = one({ op: 'read', gpa: NOSLOT + 0x10 }, { type },
      vm => vm.setMemoryAttributes({ address: NOSLOT, size: PAGE, attributes: PRIVATE, flags: 0 }))
    t.match(exit, mf('EFAULT', FLAG_PRIVATE, NOSLOT), type)
    t.throws(() => vm.decide(0, exit!.exit, { action: 'convert' }), { code: 'INVALID_ACTION' }, `${type}: convert refused`)
    t.equal(vm.pendingExits().length, 1, 'the exit stays pending')
  }
  // With a shared attribute the TDX/SNP access mismatches first (KVM's order); flags are the same.
  t.match(one({ op: 'read', gpa: NOSLOT }, { type: 'tdx' }).exit, mf('EFAULT', FLAG_PRIVATE, NOSLOT), 'tdx, attribute shared')
})

void t.test('§4.2 no memslot, shared access: KVM_EXIT_MMIO (is_write, len = min(size, 8), phys_addr = gpa, data)', async t => {
  const r = one({ op: 'read', gpa: NOSLOT + 4, size: 4 }, { type: 'default' }).exit
  t.match(r, { reason: 'KVM_EXIT_MMIO', exit_reason: 6, run: { ret: 0 }, mmio: { phys_addr: NOSLOT + 4, len: 4, is_write: false, data: [0, 0, 0, 0] } })
  t.notOk(r && 'memory_fault' in r, 'one payload')
  const w = one({ op: 'write', gpa: NOSLOT + SHARED48, size: 64 }, { type: 'tdx' }).exit
  t.match(w, { reason: 'KVM_EXIT_MMIO', mmio: { phys_addr: NOSLOT, len: 8, is_write: true } }, 'TDX: phys_addr stripped, len capped at 8')
  const snp = one({ op: 'write', gpa: NOSLOT, size: 2, private: false }, { type: 'snp' }).exit
  t.match(snp, { reason: 'KVM_EXIT_MMIO', mmio: { len: 2, is_write: true } })
})

void t.test('§4.2/§4.3 order (KVM kvm_mmu_faultin_pfn): the attribute mismatch is checked before the memslot', async t => {
  const { exit } = one({ op: 'read', gpa: NOSLOT + SHARED48 }, { type: 'tdx' },
    vm => vm.setMemoryAttributes({ address: NOSLOT, size: PAGE, attributes: PRIVATE, flags: 0 }))
  t.match(exit, mf('EFAULT', 0, NOSLOT), 'shared access, private attribute, no slot: MEMORY_FAULT (kvm-fidelity.md)')
})

void t.test('§4.4 private access to a slot without guest_memfd: MEMORY_FAULT EFAULT PRIVATE; converting cannot fix it', async t => {
  const { vm, exit } = one({ op: 'read', gpa: PLAIN }, { type: 'sw_protected' },
    vm => vm.setMemoryAttributes({ address: PLAIN, size: PAGE, attributes: PRIVATE, flags: 0 }))
  t.match(exit, mf('EFAULT', FLAG_PRIVATE, PLAIN))
  t.throws(() => vm.decide(0, exit!.exit, { action: 'convert' }), { code: 'INVALID_ACTION' })
  // TDX: after converting the mismatch the same access still cannot be private.
  const tdx = one({ op: 'read', gpa: PLAIN }, { type: 'tdx' })
  t.match(tdx.exit, mf('EFAULT', FLAG_PRIVATE, PLAIN))
  t.throws(() => tdx.vm.decide(0, tdx.exit!.exit, { action: 'convert' }), { code: 'INVALID_ACTION' }, 'the mismatch on a no-guest_memfd slot is not convertible either')
  // Blindly resuming loops on the same fault, as KVM warns.
  tdx.vm.decide(0, tdx.exit!.exit, { action: 'resume' })
  t.match(nextExit(tdx.vm), mf('EFAULT', FLAG_PRIVATE, PLAIN), 'same fault again')
})

void t.test('§4.5 private access to a poisoned page: MEMORY_FAULT errno EHWPOISON, flags PRIVATE', async t => {
  for (const type of ['sw_protected', 'snp', 'tdx'] as const) {
    const { exit } = one({ op: 'read', gpa: GMEM + 8 }, { type }, vm => vm.poison(GMEM + 100))
    t.match(exit, mf('EHWPOISON', FLAG_PRIVATE, GMEM), type)
  }
  t.equal(one({ op: 'read', gpa: GMEM + PAGE }, { type: 'tdx' }, vm => vm.poison(GMEM)).exit, null, 'the next page is fine')
  // A shared access to a poisoned guest_memfd page uses the shared backing: no EHWPOISON.
  const s = one({ op: 'read', gpa: GMEM + SHARED48 }, { type: 'tdx', initial_attributes: 'shared' }, vm => vm.poison(GMEM))
  t.equal(s.exit, null, 'shared access is not affected')
})

void t.test('§3 poison targets guest_memfd pages only (INVALID_ARGUMENT EINVAL); the page is unmapped and marked', async t => {
  const vm = vmWith([{ op: 'write', gpa: GMEM }], { memslots: SLOTS })
  t.equal(nextExit(vm), null)
  t.match(vm.backing(GMEM, PAGE), [{ private_populated: true, poisoned: false }])
  vm.poison(GMEM)
  t.match(vm.backing(GMEM, PAGE), [{ private_populated: false, poisoned: true }], 'unmapped and poisoned')
  t.throws(() => vm.poison(PLAIN), { code: 'INVALID_ARGUMENT', errno: 'EINVAL', message: /guest_memfd/ })
  t.throws(() => vm.poison(NOSLOT), { code: 'INVALID_ARGUMENT', errno: 'EINVAL' })
  t.throws(() => vm.poison(-1), { code: 'INVALID_ARGUMENT', errno: 'EINVAL' })
})

void t.test('§4.6 otherwise the access completes with no exit; reads and writes populate the backing they used', async t => {
  const vm = vmWith([
    { op: 'read', gpa: 0 },
    { op: 'write', gpa: PAGE },
    { op: 'write', gpa: 2 * PAGE + SHARED48 }
  ], { memslots: SLOTS, type: 'tdx' })
  vm.setMemoryAttributes({ address: 2 * PAGE, size: PAGE, attributes: 0, flags: 0 })
  t.equal(nextExit(vm), null)
  t.equal(vm.vcpu(0).counters.accesses, 3)
  t.same(vm.backing(0, 4 * PAGE), [
    { gpa: 0, size: 2 * PAGE, attributes: PRIVATE, shared_populated: false, private_populated: true, poisoned: false },
    { gpa: 2 * PAGE, size: PAGE, attributes: 0, shared_populated: true, private_populated: false, poisoned: false },
    { gpa: 3 * PAGE, size: PAGE, attributes: PRIVATE, shared_populated: false, private_populated: false, poisoned: false }
  ])
})

void t.test('§4 an access spanning pages checks each page in turn; the first that faults is reported, nothing populated', async t => {
  const vm = vmWith([{ op: 'write', gpa: PAGE - 4, size: 3 * PAGE }], { memslots: SLOTS, type: 'tdx' })
  vm.setMemoryAttributes({ address: 2 * PAGE, size: 2 * PAGE, attributes: 0, flags: 0 })
  t.match(nextExit(vm), mf('EFAULT', FLAG_PRIVATE, 2 * PAGE), 'pages 0 and 1 pass, page 2 is the first to fault')
  t.match(vm.backing(0, 4 * PAGE), [{ private_populated: false, shared_populated: false }], 'nothing populated')
  const mmio = vmWith([{ op: 'read', gpa: MIB - 4, size: 16, private: false }], { memslots: SLOTS, type: 'snp', initial_attributes: 'shared' })
  t.match(nextExit(mmio), { reason: 'KVM_EXIT_MMIO', mmio: { phys_addr: MIB, len: 8 } }, 'MMIO at the first byte past the slot')
})

void t.test('§3 conversion discards the old backing: to private drops the shared copy; to shared punches the guest_memfd hole (and frees poison)', async t => {
  const vm = vmWith([], { memslots: SLOTS, type: 'tdx' })
  vm.poison(GMEM)
  vm.setMemoryAttributes({ address: GMEM, size: PAGE, attributes: 0, flags: 0 })
  t.match(vm.backing(GMEM, PAGE), [{ attributes: 0, poisoned: false, private_populated: false }], 'hole punch clears poison')
  const w = vmWith([{ op: 'write', gpa: 0, private: false }, { op: 'write', gpa: PAGE }], { memslots: SLOTS, type: 'tdx' })
  w.setMemoryAttributes({ address: 0, size: PAGE, attributes: 0, flags: 0 })
  t.equal(nextExit(w), null)
  t.match(w.backing(0, 2 * PAGE), [{ shared_populated: true }, { private_populated: true }])
  w.setMemoryAttributes({ address: 0, size: 2 * PAGE, attributes: PRIVATE, flags: 0 })
  t.match(w.backing(0, 2 * PAGE), [
    { size: PAGE, attributes: PRIVATE, shared_populated: false, private_populated: false },
    { size: PAGE, attributes: PRIVATE, shared_populated: false, private_populated: true }
  ], 'the shared copy of page 0 is gone; page 1 (already private) keeps its guest_memfd page')
  w.setMemoryAttributes({ address: 0, size: 2 * PAGE, attributes: 0, flags: 0 })
  t.match(w.backing(0, 2 * PAGE), [{ size: 2 * PAGE, attributes: 0, shared_populated: false, private_populated: false }])
})

void t.test('§3 KVM_SET_MEMORY_ATTRIBUTES: EINVAL cases, all-or-nothing; no memslot needed; extents not pages', async t => {
  const vm = vmWith([], { type: 'tdx' })
  const bad = [
    { address: 0, size: PAGE, attributes: PRIVATE, flags: 1 },
    { address: 0, size: PAGE, attributes: 1, flags: 0 },
    { address: 0, size: 0, attributes: 0, flags: 0 },
    { address: 2 ** 52 - PAGE, size: 2 * PAGE, attributes: 0, flags: 0 },
    { address: 1, size: PAGE, attributes: 0, flags: 0 },
    { address: 0, size: 1, attributes: 0, flags: 0 }
  ]
  const before = vm.memoryAttributes()
  for (const b of bad) t.throws(() => vm.setMemoryAttributes(b), { code: 'INVALID_ARGUMENT', errno: 'EINVAL' }, JSON.stringify(b))
  t.same(vm.memoryAttributes(), before, 'nothing changed')
  vm.setMemoryAttributes({ address: 2 ** 40, size: 2 ** 40, attributes: PRIVATE, flags: 0 })
  t.same(vm.memoryAttributes(2 ** 40, 2 ** 40), [{ gpa: 2 ** 40, size: 2 ** 40, attributes: PRIVATE }], '1 TiB in one extent, no memslot')
  t.same(vm.backing(2 ** 40, 2 ** 40).length, 1, 'backing is extents too')
})

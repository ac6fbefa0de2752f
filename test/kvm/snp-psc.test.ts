// docs/spec/kvm-abi.md section 5, SNP page state change (svm/sev.c snp_begin_psc_msr, snp_begin_psc,
// snp_complete_one_psc; Linux's __set_pages_state → sev_es_terminate on failure).
import t from 'tap'
import {
  EAGAIN, EINVAL, KVM_MAP_GPA_RANGE_ENCRYPTED as ENC, KVM_MAP_GPA_RANGE_PAGE_SZ_2M as SZ_2M,
  KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE, KVM_SYSTEM_EVENT_SEV_TERM, VMGEXIT_PSC_ERROR_GENERIC,
  VMGEXIT_PSC_ERROR_INVALID_ENTRY, VMGEXIT_PSC_ERROR_INVALID_HDR
} from '../../src/kvm/index.js'
import { PSC_MSR_ERROR_CODE, SEV_TERM_PSC_MSR } from '../../src/kvm/hypercall/snp-psc.js'
import type { ExitRecord } from '../../src/kvm/index.js'
import type { Vm } from '../../src/kvm/vm.js'
import { MIB, nextExit, PAGE, vmWith } from './helpers/vm.js'

const sevTerm = { reason: 'KVM_EXIT_SYSTEM_EVENT', run: { ret: 0 }, system_event: { type: KVM_SYSTEM_EVENT_SEV_TERM, ndata: 1, data: [SEV_TERM_PSC_MSR] } }

function convertAll (vm: Vm): ExitRecord[] {
  const out: ExitRecord[] = []
  for (let e = nextExit(vm); e !== null; e = nextExit(vm)) {
    out.push(e)
    if (e.reason !== 'KVM_EXIT_HYPERCALL') break
    vm.decide(0, e.exit, { action: 'convert' })
  }
  return out
}

void t.test('SEV_TERM data[0] is GHCB_MSR_TERM_REQ | SEV_TERM_SET_LINUX << 12 | GHCB_TERM_PSC << 16', async t => {
  t.equal(SEV_TERM_PSC_MSR, 0x11100)
})

void t.test('§5 SNP MSR protocol: one 4 KiB page per exit; a longer map_gpa is the guest looping page by page', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 3, private: false, protocol: 'msr', page_size: '2m' }], { type: 'snp' })
  const exits = convertAll(vm)
  t.same(exits.map(e => e.hypercall?.args), [[0, 1, 0, 0, 0, 0], [PAGE, 1, 0, 0, 0, 0], [2 * PAGE, 1, 0, 0, 0, 0]], 'PAGE_SZ_4K, DECRYPTED')
  t.match(exits[0], { reason: 'KVM_EXIT_HYPERCALL', hypercall: { nr: 12, ret: 0, flags: 0 } }, 'flags: sev.c never writes it (kvm_run starts zeroed)')
  t.same(vm.memoryAttributes(0, 3 * PAGE), [{ gpa: 0, size: 3 * PAGE, attributes: 0 }])
  const enc = vmWith([{ op: 'map_gpa', gpa: PAGE, npages: 1, private: true, protocol: 'msr' }], { type: 'snp', initial_attributes: 'shared' })
  t.same(nextExit(enc)?.hypercall?.args, [PAGE, 1, ENC, 0, 0, 0])
})

void t.test('§5 SNP MSR: ret EAGAIN or EINVAL fails the change (GHCB_MSR_PSC_RESP_ERROR); the Linux guest terminates (SEV_TERM)', async t => {
  for (const ret of [EAGAIN, EINVAL]) {
    const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 2, private: false, protocol: 'msr' }], { type: 'snp' })
    const e = nextExit(vm)!
    vm.decide(0, e.exit, { action: 'resume', ret })
    t.match(nextExit(vm), sevTerm)
    t.equal(vm.vcpu(0).counters.hypercall_errors, 1)
    t.same(vm.lastHypercall(0), { ret: PSC_MSR_ERROR_CODE }, 'GHCB_MSR_PSC_RESP_ERROR = BIT_ULL(63) | 0x15, folded')
  }
  t.equal(PSC_MSR_ERROR_CODE, 2 ** 32 + 0x15)
})

void t.test('kvm_abi: "next" refuses any other ret (KVM_RUN EINVAL, snp_complete_psc_msr / snp_complete_one_psc); "6.19" fails the change with it', async t => {
  for (const protocol of ['msr', 'ghcb'] as const) {
    const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 2, private: false, protocol }], { type: 'snp' })
    const e = nextExit(vm)!
    t.throws(() => vm.decide(0, e.exit, { action: 'resume', ret: 1 }), { code: 'INVALID_ACTION', errno: 'EINVAL' }, `${protocol}: refused`)
    t.same(vm.pendingExits().map(x => x.exit), [e.exit], 'the exit stays pending')
    const old = vmWith([{ op: 'map_gpa', gpa: 0, npages: 2, private: false, protocol }], { type: 'snp', kvm_abi: '6.19' })
    old.decide(0, nextExit(old)!.exit, { action: 'resume', ret: 1 })
    t.match(nextExit(old), sevTerm, `${protocol}: 6.19 takes any non-zero ret as a failure`)
  }
})

void t.test('§5 SNP GHCB: adjacent entries with the same operation and page size merge into one exit', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 50, private: false }], { type: 'snp' })
  t.same(convertAll(vm).map(e => e.hypercall?.args), [[0, 50, 0, 0, 0, 0]])
  t.same(vm.memoryAttributes(0, 50 * PAGE), [{ gpa: 0, size: 50 * PAGE, attributes: 0 }])
})

void t.test('§5 SNP GHCB: the Linux guest puts VMGEXIT_PSC_MAX_ENTRY (64) entries in a request; a longer map_gpa is several requests', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 150, private: false }], { type: 'snp' })
  t.same(convertAll(vm).map(e => e.hypercall?.args.slice(0, 2)), [[0, 64], [64 * PAGE, 64], [128 * PAGE, 22]])
})

void t.test('§5 SNP GHCB: psc_entries up to VMGEXIT_PSC_MAX_COUNT (253) is one request; more is VMGEXIT_PSC_ERROR_INVALID_HDR and the guest terminates', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 600, private: false, psc_entries: 253 }], { type: 'snp' })
  t.same(convertAll(vm).map(e => e.hypercall?.args.slice(0, 2)), [[0, 253], [253 * PAGE, 253], [506 * PAGE, 94]])
  const over = vmWith([{ op: 'map_gpa', gpa: 0, npages: 600, private: false, psc_entries: 254 }], { type: 'snp' })
  t.match(nextExit(over), sevTerm, 'snp_begin_psc: end_idx >= max_nr_entries')
  t.same(over.lastHypercall(0), { ret: VMGEXIT_PSC_ERROR_INVALID_HDR })
  const short = vmWith([{ op: 'map_gpa', gpa: 0, npages: 100, private: false, psc_entries: 300 }], { type: 'snp' })
  t.same(convertAll(short).map(e => e.hypercall?.args.slice(0, 2)), [[0, 100]], 'only a request that really holds more than 253 entries fails')
})

void t.test('§5 SNP GHCB: 2 MiB entries set PAGE_SZ_2M and count 512 pages each; a 4 KiB tail is its own run', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 2 * MIB, npages: 1024 + 3, private: false, page_size: '2m' }], { type: 'snp', memslots: [{ slot: 0, gpa: 0, size: 16 * MIB, guest_memfd: true }] })
  t.same(convertAll(vm).map(e => e.hypercall?.args), [[2 * MIB, 1024, SZ_2M, 0, 0, 0], [4 * MIB + 2 * MIB, 3, 0, 0, 0, 0]])
  const g1 = vmWith([{ op: 'map_gpa', gpa: 0, npages: 512, private: true, page_size: '1g' }], { type: 'snp', initial_attributes: 'shared' })
  t.same(nextExit(g1)?.hypercall?.args, [0, 512, ENC | SZ_2M, 0, 0, 0], '"1g" is not a PSC size: 2 MiB entries')
})

void t.test('§5 SNP GHCB: a 2 MiB entry at an unaligned gfn is VMGEXIT_PSC_ERROR_INVALID_ENTRY; the guest terminates', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: PAGE, npages: 512, private: false, page_size: '2m' }], { type: 'snp' })
  t.match(nextExit(vm), sevTerm)
  t.same(vm.lastHypercall(0), { ret: VMGEXIT_PSC_ERROR_INVALID_ENTRY })
})

void t.test('§5 SNP GHCB: a non-zero ret fails the request with the entries done so far left done (partial completion)', async t => {
  const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 150, private: false }], { type: 'snp' })
  const e1 = nextExit(vm)!
  vm.decide(0, e1.exit, { action: 'convert' })
  const e2 = nextExit(vm)!
  vm.decide(0, e2.exit, { action: 'resume', ret: EAGAIN })
  t.match(nextExit(vm), sevTerm)
  t.same(vm.lastHypercall(0), { ret: VMGEXIT_PSC_ERROR_GENERIC })
  t.equal(VMGEXIT_PSC_ERROR_GENERIC, 0x100 * 2 ** 32, '(0x100UL << 32)')
  t.same(vm.memoryAttributes(0, 150 * PAGE), [{ gpa: 0, size: 64 * PAGE, attributes: 0 }, { gpa: 64 * PAGE, size: 86 * PAGE, attributes: PRIVATE }])
})

void t.test('§5 SNP: hypercall.flags is what kvm_run held (sev.c writes only exit_reason, nr, ret, args[0..2])', async t => {
  const vm = vmWith([{ op: 'out', port: 1, size: 1, value: 1 }, { op: 'map_gpa', gpa: 0, npages: 1, private: false }, { op: 'map_gpa', gpa: PAGE, npages: 1, private: false, protocol: 'msr' }], { type: 'snp' })
  vm.decide(0, nextExit(vm)!.exit, { action: 'resume' })
  const ghcb = nextExit(vm)!
  t.match(ghcb.hypercall, { ret: 0, flags: 0 }, 'never LONG_MODE on SNP, although the guest is 64-bit')
  vm.decide(0, ghcb.exit, { action: 'resume', ret: 0 })
  t.match(nextExit(vm)!.hypercall, { ret: 0, flags: 0 })
  const tdx = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false }], { type: 'tdx' })
  t.match(nextExit(tdx)!.hypercall, { flags: 1 }, '__tdx_map_gpa writes LONG_MODE')
})

void t.test('§5 SNP: hypercall exit disabled → the guest gets an error and terminates (both protocols)', async t => {
  for (const protocol of ['msr', 'ghcb'] as const) {
    const vm = vmWith([{ op: 'map_gpa', gpa: 0, npages: 1, private: false, protocol }], { type: 'snp', hypercall_exit: false })
    t.match(nextExit(vm), sevTerm, protocol)
    t.throws(() => vm.decide(0, vm.pendingExits()[0]!.exit, { action: 'resume' }), { code: 'INVALID_ACTION' }, 'SEV_TERM cannot be resumed')
  }
})

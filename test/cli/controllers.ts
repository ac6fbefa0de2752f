// Controllers for `faultline check` and `faultline test` tests, as a user would write them: plain
// Node files (no faultline code, no packages) that read FAULTLINE_URL, FAULTLINE_TOKEN and
// FAULTLINE_VM, poll the VM's pending exits over REST and decide them, and end when the VM
// has ended. `decideBody` is the only part that differs between them.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const LOOP = `
const url = process.env.FAULTLINE_URL, token = process.env.FAULTLINE_TOKEN, vm = process.env.FAULTLINE_VM
const headers = { authorization: 'Bearer ' + token, 'content-type': 'application/json' }
const get = async (path) => { const r = await fetch(url + path, { headers }); if (!r.ok) throw new Error(path + ': ' + r.status); return r.json() }
const post = (path, body) => fetch(url + path, { method: 'POST', headers, body: JSON.stringify(body) })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const info = await get('/v1/vms/' + vm)
const gmem = (gpa, size) => info.memslots.some((s) => s.guest_memfd && gpa >= s.gpa && gpa + size <= s.gpa + s.size)
for (;;) {
  const state = (await get('/v1/vms/' + vm)).state
  const pending = (await get('/v1/vms/' + vm + '/exits?pending=true')).items
  if (pending.length === 0 && (state === 'stopped' || state === 'killed')) break
  for (const e of pending) {
    const d = decide(e)
    console.log('exit', e.exit, e.reason, '->', JSON.stringify(d))
    await post('/v1/vms/' + vm + '/exits/' + e.exit + '/decision', d)
  }
  await sleep(10)
}
`

/** What a correct VMM does (docs/spec/kvm-abi.md section 6, the cases' rules). */
export const REFERENCE = `
function decide (e) {
  const fault = e.reason === 'KVM_EXIT_MEMORY_FAULT' && e.run.ret === -1 ? e.memory_fault : undefined
  if (fault) {
    const priv = (fault.flags & 8) !== 0
    if (e.run.errno === 'EHWPOISON') return { action: 'kill', reason: 'hwpoison' }
    if (priv && !gmem(fault.gpa, fault.size)) return { action: 'kill', reason: 'no guest_memfd' }
    return { action: 'convert' }
  }
  if (e.reason === 'KVM_EXIT_HYPERCALL' && e.hypercall.nr === 12) {
    const [gpa, npages, attrs] = e.hypercall.args
    if ((attrs & 0x10) !== 0 && !gmem(gpa, npages * 4096)) return { action: 'resume', ret: 22 }
    return { action: 'convert' }
  }
  if (e.reason === 'KVM_EXIT_SYSTEM_EVENT' || e.reason === 'KVM_EXIT_SHUTDOWN') return { action: 'kill' }
  if (e.reason === 'KVM_EXIT_IO' && e.io.direction === 0) return { action: 'resume', data: new Array(e.io.count).fill(0) }
  return { action: 'resume' }
}
`

/** Reads memory_fault whenever it is there, converts every fault and hypercall, resumes the rest. */
export const BLIND = `
function decide (e) {
  if (e.memory_fault || (e.reason === 'KVM_EXIT_HYPERCALL' && e.hypercall.nr === 12)) return { action: 'convert' }
  return { action: 'resume' }
}
`


export function writeController (dir: string, name: string, decide: string): string {
  const file = join(dir, `${name}.mjs`)
  writeFileSync(file, decide + LOOP)
  return file
}

/** Resumes everything: a memory fault it cannot fix comes back for ever. */
export const RESUMER = `
function decide () { return { action: 'resume' } }
`

/**
 * The built-in always-convert policy (src/cli/policies.ts) as a user would write it, the one
 * the golden traces in traces/ were decided by: convert every EFAULT fault and MAP_GPA_RANGE,
 * kill a hwpoisoned private page and terminal events, resume the rest with ret 0 and zero
 * data. A private fault with no guest_memfd behind it is killed up front: the CLI kills it
 * after the server refuses the conversion, but a replay takes a decision before the core
 * sees it, so a controller is never told of that refusal (see docs/ci.md).
 */
export const ALWAYS_CONVERT = `
const TERMINAL_EVENTS = [1, 3, 6, 7] // KVM_SYSTEM_EVENT_SHUTDOWN, _CRASH, _SEV_TERM, _TDX_FATAL
function decide (e) {
  const fault = e.reason === 'KVM_EXIT_MEMORY_FAULT' && e.run.ret === -1 ? e.memory_fault : undefined
  if (fault) {
    const priv = (fault.flags & 8) !== 0
    if (e.run.errno === 'EFAULT') return priv && !gmem(fault.gpa, fault.size) ? { action: 'kill' } : { action: 'convert' }
    return priv ? { action: 'kill' } : { action: 'resume', inject: 'mce' }
  }
  if (e.reason === 'KVM_EXIT_HYPERCALL' && e.hypercall.nr === 12) return { action: 'convert' }
  if (['KVM_EXIT_SHUTDOWN', 'KVM_EXIT_INTERNAL_ERROR', 'KVM_EXIT_UNKNOWN'].includes(e.reason)) return { action: 'kill' }
  if (e.reason === 'KVM_EXIT_SYSTEM_EVENT' && TERMINAL_EVENTS.includes(e.system_event.type)) return { action: 'kill' }
  return resume(e)
}
function resume (e) {
  const d = { action: 'resume' }
  if (e.reason === 'KVM_EXIT_HYPERCALL') d.ret = 0
  if (e.reason === 'KVM_EXIT_IO' && e.io.direction === 0) d.data = new Array(e.io.count).fill(0)
  if (e.reason === 'KVM_EXIT_MMIO' && !e.mmio.is_write) d.data = new Array(e.mmio.len).fill(0)
  return d
}
`

/**
 * always-convert but for one decision: the private page at 0x103000 is not converted back
 * (resumed), which implicit-conversions' last exit asks for.
 */
export const ALWAYS_CONVERT_BUT_ONE = ALWAYS_CONVERT.replace('function decide (e) {', `function decide (e) {
  if (e.reason === 'KVM_EXIT_MEMORY_FAULT' && e.memory_fault.flags === 8 && e.memory_fault.gpa === 0x103000) return { action: 'resume' }`)

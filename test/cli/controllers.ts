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

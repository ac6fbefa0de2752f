// The client and the CLI against the real server on 127.0.0.1: REST calls with their errors,
// a controller driving real VMs over the stream with the built-in policies, and the CLI's
// commands end to end.
import t from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { FaultlineClient, FaultlineApiError } from '../../src/client/index.js'
import type { ExitMessage } from '../../src/client/index.js'
import { runController } from '../../src/cli/controller.js'
import type { DecisionOutcome } from '../../src/cli/controller.js'
import { alwaysConvert, convertExplicitKillImplicit } from '../../src/cli/policies.js'
import { withRepeatGuard } from '../../src/cli/repeat-guard.js'
import { main } from '../../src/cli/main.js'
import type { MainIo } from '../../src/cli/main.js'
import { memoryOutput } from '../../src/cli/output.js'
import { runDemo } from '../../src/cli/demo.js'
import { build, TOKENS } from '../helper.js'

const EXIT_FOREVER = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }]

async function serve (t: Test): Promise<{ app: FastifyInstance, url: string, client: FaultlineClient }> {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const a = app.server.address()
  if (a === null || typeof a === 'string') throw new Error('not listening on TCP')
  const url = `http://127.0.0.1:${a.port}`
  return { app, url, client: new FaultlineClient({ url, token: TOKENS.operatorA }) }
}

void t.test('REST: every call works against the server, and its errors map to FaultlineApiError', async (t) => {
  const { client } = await serve(t)
  const vm = await client.createVm({ name: 'e2e', type: 'sw_protected', vcpus: 2, memory: { size_mib: 16 }, program: EXIT_FOREVER })
  t.match(vm, { name: 'e2e', type: 'sw_protected', state: 'created', vcpus: 2 })
  t.same((await client.getVm(vm.id)).id, vm.id)
  const ids: string[] = []
  for await (const v of client.allVms({ limit: 1 })) ids.push(v.id)
  t.same(ids, [vm.id])
  t.equal((await client.action(vm.id, 'start')).state, 'running')
  t.equal((await client.vcpus(vm.id)).length, 2)
  const extents = await client.memoryAttributes(vm.id, 0, 16 * 2 ** 20)
  t.same(extents, [{ gpa: 0, size: 16 * 2 ** 20, attributes: 8 }], 'a confidential VM boots private')
  const after = await client.setMemoryAttributes(vm.id, { address: 0, size: 4096, attributes: 0, flags: 0 })
  t.ok(Array.isArray(after))
  t.match(await client.memoryAttributes(vm.id, 0, 8192), [{ gpa: 0, size: 4096, attributes: 0 }, { gpa: 4096, size: 4096, attributes: 8 }])
  const einval = await client.setMemoryAttributes(vm.id, { address: 1, size: 4096, attributes: 0, flags: 0 }).catch((e: unknown) => e)
  t.ok(einval instanceof FaultlineApiError)
  t.match(einval, { statusCode: 400, errno: 'EINVAL' })
  await t.rejects(client.action(vm.id, 'start'), { statusCode: 409, code: 'FAULTLINE_INVALID_TRANSITION' })
  t.match(await client.backing(vm.id, 0, 4096), [{ gpa: 0 }])
  t.match(await client.injectInterrupt(vm.id, 0), { id: 0 })
  t.ok((await client.presets()).some((p) => p.name === 'tdx-boot'))
  // The program exits on every OUT: wait for a pending one, then decide it over REST.
  let pending = (await client.exits(vm.id, { pending: true })).items
  for (let i = 0; i < 200 && pending.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5))
    pending = (await client.exits(vm.id, { pending: true })).items
  }
  const first = pending[0]
  if (first === undefined) throw new Error('no pending exit')
  t.equal(first.reason, 'KVM_EXIT_IO')
  t.match(await client.decide(vm.id, first.exit, 'resume'), { exit: first.exit, decision: { action: 'resume', by: 'rest' } })
  await t.rejects(client.decide(vm.id, first.exit, 'resume'), { statusCode: 409, code: 'FAULTLINE_EXIT_NOT_PENDING' })
  await client.deleteVm(vm.id)
  await t.rejects(client.getVm(vm.id), { statusCode: 404, code: 'FAULTLINE_VM_NOT_FOUND' })
  await t.rejects(new FaultlineClient({ url: client.url, token: 'wrong-token-wrong-token' }).listVms(), { statusCode: 401, code: 'FAULTLINE_UNAUTHORIZED' })
})

void t.test('stream: always-convert drives tdx-boot to the end; every exit decided once; memory ends private', async (t) => {
  const { client } = await serve(t)
  const vm = await client.createVm({ type: 'tdx', vcpus: 2, preset: 'tdx-boot', seed: 3 })
  const stream = client.stream()
  t.teardown(() => stream.close())
  const hello = await stream.ready()
  t.match(hello, { type: 'hello', protocol: 1 })
  const seen: ExitMessage[] = []
  const outcomes: DecisionOutcome[] = []
  const end = await runController({
    client,
    stream,
    vm: vm.id,
    policy: withRepeatGuard(alwaysConvert),
    onSubscribed: async () => { await client.action(vm.id, 'start') },
    onExit: (e) => seen.push(e),
    onDecision: (_e, _d, o) => outcomes.push(o)
  })
  t.same(end, { reason: 'final', state: 'stopped' })
  t.equal(seen.length, 24, 'tdx-boot: 12 exits per vCPU')
  t.equal(new Set(seen.map((e) => e.exit)).size, 24, 'no exit delivered twice')
  t.ok(outcomes.every((o) => o.ok), 'every decision acked')
  const journal = (await client.exits(vm.id, { limit: 500 })).items
  t.ok(journal.every((e) => e.decision?.by === 'controller'))
  const span = { gpa: 0, size: (await client.getVm(vm.id)).memslots[0]?.size ?? 0 }
  t.same(await client.memoryAttributes(vm.id, span.gpa, span.size), [{ ...span, attributes: 8 }])
})

void t.test('stream: convert-explicit-kill-implicit kills a guest that relies on implicit conversions', async (t) => {
  const { client } = await serve(t)
  const vm = await client.createVm({ type: 'tdx', vcpus: 1, preset: 'implicit-conversions' })
  const stream = client.stream()
  t.teardown(() => stream.close())
  const end = await runController({
    client, stream, vm: vm.id, policy: convertExplicitKillImplicit,
    onSubscribed: async () => { await client.action(vm.id, 'start') }
  })
  t.same(end, { reason: 'final', state: 'killed' })
})

void t.test('stream: a conversion the server refuses (no guest_memfd) is answered with kill', async (t) => {
  const { client } = await serve(t)
  const vm = await client.createVm({ type: 'tdx', vcpus: 1, preset: 'no-guest-memfd-loop' })
  const stream = client.stream()
  t.teardown(() => stream.close())
  const outcomes: DecisionOutcome[] = []
  const end = await runController({
    client, stream, vm: vm.id, policy: withRepeatGuard(alwaysConvert),
    onSubscribed: async () => { await client.action(vm.id, 'start') },
    onDecision: (_e, _d, o) => outcomes.push(o)
  })
  t.same(end, { reason: 'final', state: 'killed' })
  const refused = outcomes.find((o) => !o.ok)
  t.match(refused, { ok: false, error: { code: 'INVALID_ACTION' }, fallback: { action: 'kill' } })
})

void t.test('stream: a takeover revokes the first controller, which stops deciding', async (t) => {
  const { client } = await serve(t)
  const vm = await client.createVm({ type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: EXIT_FOREVER })
  const first = client.stream()
  const second = client.stream()
  t.teardown(async () => { await first.close(); await second.close() })
  const ended = runController({
    client, stream: first, vm: vm.id, policy: alwaysConvert,
    onSubscribed: async () => { await second.subscribe(vm.id, { role: 'controller', takeover: true }) }
  })
  t.same(await ended, { reason: 'revoked' })
  t.same([...first.subscriptions], [], 'a revoked VM is not resubscribed')
  await t.rejects(first.subscribe(vm.id, { role: 'controller' }), { code: 'CONFLICT' })
})

/** main's output captured: what the last command printed, on stdout and stderr. */
function captureIo (): MainIo & { text: () => string, errText: () => string } {
  const written: string[] = []
  const errors: string[] = []
  let out = memoryOutput()
  return {
    write: (s) => { written.push(s) },
    writeErr: (s) => { errors.push(s) },
    output: (opts) => {
      written.length = 0
      errors.length = 0
      out = memoryOutput({ json: opts.json })
      return out
    },
    tty: false,
    text: () => written.join('') + out.lines.join('\n'),
    errText: () => errors.join('') + out.errors.join('\n')
  }
}

void t.test('cli: vm commands, decide and watch against the server', async (t) => {
  const { url } = await serve(t)
  const env = { FAULTLINE_URL: url, FAULTLINE_TOKEN: TOKENS.operatorA }
  const io = captureIo()
  const run = async (line: string): Promise<number> => await main(line.split(' '), env, io)

  t.equal(await run('vm create --name cli-a --type tdx --vcpus 1 --preset tdx-boot'), 0)
  t.match(io.text(), /^id {8}vm_/)
  t.equal(await run('vm list'), 0)
  t.match(io.text(), /cli-a +tdx +created +1/)
  t.equal(await run('vm show cli-a'), 0, 'a VM can be named by its name')
  t.match(io.text(), /state {5}created/)
  t.equal(await run('presets'), 0)
  t.match(io.text(), /tdx-boot +tdx +2048 MiB/)
  t.equal(await run('--json vm show cli-a'), 0)
  const id = (JSON.parse(io.text()) as { id: string }).id

  // A controller in the background.
  const decideIo = captureIo()
  const deciding = main(['decide', id, '--policy', 'always-convert'], env, decideIo)
  // Exits wait for a controller, so starting before `decide` subscribed loses nothing.
  t.equal(await run(`vm start ${id}`), 0)
  t.match(io.text(), `${id}: created -> running`)
  t.equal(await deciding, 0)
  t.match(decideIo.text(), /KVM_EXIT_HYPERCALL MAP_GPA_RANGE .* -> convert/)
  t.match(decideIo.text(), /decided 12 \(convert 4, resume 8\)/)
  t.match(decideIo.text(), new RegExp(`${id} is stopped`))

  t.equal(await run(`watch ${id}`), 0, 'watching a stopped VM ends at once')
  t.match(io.errText(), /is stopped; --follow/)
  t.equal(await run(`watch ${id} --since 0`), 0, 'replaying from 0 shows the whole run, up to the stop')
  t.match(io.text(), /==> RUNNING/)
  t.match(io.text(), /decided #1 convert by controller/)
  t.match(io.text(), /==> STOPPED/)
  t.equal(await run(`vm exits ${id}`), 0)
  t.match(io.text(), /#1 seq \d+ vcpu 0 KVM_EXIT_HYPERCALL MAP_GPA_RANGE .* -> convert by controller/)
  t.equal(await run(`vm memory ${id}`), 0)
  t.match(io.text(), /private 2 GiB/)
  t.equal(await run(`vm rm ${id}`), 0)
  t.equal(await run(`vm show ${id}`), 1)
  t.match(io.errText(), /FAULTLINE_VM_NOT_FOUND \(HTTP 404\)/)
})

void t.test('cli: usage, help, version, a bad token and an unreachable server', async (t) => {
  const { url } = await serve(t)
  const io = captureIo()
  t.equal(await main(['help'], {}, io), 0)
  t.match(io.text(), /usage: faultline/)
  t.equal(await main(['help', 'vm'], {}, io), 0)
  t.match(io.text(), /--memory-mib/)
  t.equal(await main(['version'], {}, io), 0)
  t.match(io.text(), /faultline \d+\.\d+\.\d+/)
  t.equal(await main(['vm', 'frob', 'x'], {}, io), 64)
  t.match(io.errText(), /unknown vm command: frob/)
  t.equal(await main(['decide', 'x', '--policy', '/nonexistent/policy.json'], { FAULTLINE_URL: url, FAULTLINE_TOKEN: TOKENS.operatorA }, io), 64)
  t.equal(await main(['vm', 'list'], { FAULTLINE_URL: url, FAULTLINE_DATA_DIR: '/nonexistent' }, io), 1)
  t.match(io.errText(), /no token: pass --token/)
  t.equal(await main(['vm', 'list'], { FAULTLINE_URL: 'http://127.0.0.1:1', FAULTLINE_TOKEN: 'x' }, io), 1)
  t.match(io.errText(), /cannot reach http:\/\/127\.0\.0\.1:1.*is the server running/)
})

void t.test('the demo runs tdx-boot to the end with this client and summarises it', async (t) => {
  const out = memoryOutput()
  const result = await runDemo({ out, vcpus: 2 })
  t.equal(result.finalState, 'stopped')
  t.equal(result.timedOut, false)
  t.equal(result.tally.decided, 24)
  const text = out.lines.join('\n')
  t.match(text, /HYPERCALL +convert +8/)
  t.match(text, /IO +resume +16/)
  t.match(text, /memory map at the end/)
  t.match(text, /decision round trip {2}p50 [\d.]+ ms {2}p99 [\d.]+ ms {2}\(24 decisions\)/)
})

// REST calls stream tests make around their sockets (through app.inject: the stream is the
// thing under test, REST only sets up and inspects VMs).
import type { FastifyInstance } from 'fastify'

export const EXIT_FOREVER = [{ op: 'repeat', forever: true, body: [{ op: 'out', port: 1, size: 1, value: 1 }] }]

export class Rest {
  constructor (private readonly app: FastifyInstance, private readonly token: string) {}

  private get headers (): { authorization: string } { return { authorization: `Bearer ${this.token}` } }

  async createVm (body: Record<string, unknown> = {}): Promise<string> {
    const r = await this.app.inject({
      method: 'POST',
      url: '/v1/vms',
      headers: this.headers,
      payload: { type: 'default', vcpus: 1, memory: { size_mib: 1 }, program: EXIT_FOREVER, ...body }
    })
    if (r.statusCode !== 201) throw new Error(`create VM: ${r.statusCode} ${r.body}`)
    return (r.json() as { id: string }).id
  }

  async act (vm: string, action: string): Promise<Record<string, unknown>> {
    const r = await this.app.inject({ method: 'POST', url: `/v1/vms/${vm}/actions`, headers: this.headers, payload: { action } })
    if (r.statusCode !== 200) throw new Error(`${action} ${vm}: ${r.statusCode} ${r.body}`)
    return r.json() as Record<string, unknown>
  }

  async get (url: string): Promise<{ status: number, body: unknown }> {
    const r = await this.app.inject({ method: 'GET', url, headers: this.headers })
    return { status: r.statusCode, body: r.json() as unknown }
  }

  async vm (vm: string): Promise<Record<string, unknown> & { counters: Record<string, number>, seq: number, state: string }> {
    const r = await this.get(`/v1/vms/${vm}`)
    if (r.status !== 200) throw new Error(`GET ${vm}: ${r.status}`)
    return r.body as Record<string, unknown> & { counters: Record<string, number>, seq: number, state: string }
  }

  /** Everything REST says about a VM, for before/after comparisons. */
  async snapshot (vm: string): Promise<unknown> {
    const [view, vcpus, attrs, pending] = await Promise.all([
      this.get(`/v1/vms/${vm}`),
      this.get(`/v1/vms/${vm}/vcpus`),
      this.get(`/v1/vms/${vm}/memory/attributes`),
      this.get(`/v1/vms/${vm}/exits?pending=true`)
    ])
    return { view, vcpus, attrs, pending }
  }
}

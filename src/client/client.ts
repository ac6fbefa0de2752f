// FaultlineClient: one typed method per route of the v1 contract (docs/spec/api-v1.md "REST"), plus
// stream() for the WebSocket. Every non-2xx answer throws FaultlineApiError.
import { requestJson, requestText, seg } from './http.js'
import type { HttpOptions, Query, RequestOptions } from './http.js'
import { ExitStream } from './stream.js'
import type { ExitStreamOptions } from './stream.js'
import type {
  AttributeExtent, BackingExtent, CreateVmRequest, DecisionAction, DecisionOptions,
  ExitListOptions, ExtentPage, JournalExit, ListOptions, MemoryRangeOptions, Page, Preset, ReplayOptions, ReplayView,
  SetMemoryAttributesRequest, VcpuInfo, VmAction, VmInfo
} from './types.js'

export interface FaultlineClientOptions {
  /** The server's base URL. Default http://127.0.0.1:8080. */
  url?: string
  /** A bearer token (FAULTLINE_TOKEN, or the one the server wrote to <data dir>/token). */
  token?: string
  /** Per-request limit for REST calls, ms; 0 for none. Default 30000. */
  timeoutMs?: number
  /** For tests or other runtimes: the fetch to use. */
  fetch?: typeof globalThis.fetch
}

const rangeQuery = (o: MemoryRangeOptions): Query => ({ gpa: o.gpa, size: o.size, limit: o.limit, cursor: o.cursor })

export const DEFAULT_URL = 'http://127.0.0.1:8080'

/** The media type of a trace file, both ways. */
export const TRACE_MEDIA_TYPE = 'application/x-ndjson'

/** Some list-like routes may answer a bare array or `{items}`; callers get the array either way. */
const itemsOf = <T>(body: T[] | { items: T[] }): T[] => Array.isArray(body) ? body : body.items

export class FaultlineClient {
  readonly url: string
  private readonly token: string | undefined
  private readonly http: HttpOptions

  constructor (opts: FaultlineClientOptions = {}) {
    this.url = opts.url ?? DEFAULT_URL
    this.token = opts.token
    this.http = {
      baseUrl: this.url,
      token: opts.token,
      fetch: opts.fetch ?? globalThis.fetch.bind(globalThis),
      timeoutMs: opts.timeoutMs ?? 30_000
    }
  }

  private async call<T> (method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return await requestJson<T>(this.http, method, path, opts)
  }

  // ---- VMs -------------------------------------------------------------------------------

  /** POST /v1/vms: 201 with the VM. */
  async createVm (body: CreateVmRequest): Promise<VmInfo> {
    return await this.call('POST', 'v1/vms', { body })
  }

  /** GET /v1/vms: one page of the caller's VMs. */
  async listVms (opts: ListOptions = {}): Promise<Page<VmInfo>> {
    return await this.call('GET', 'v1/vms', { query: { limit: opts.limit, cursor: opts.cursor } })
  }

  /** Every page of GET /v1/vms, following `next` until it is null. */
  async * vmPages (opts: ListOptions = {}): AsyncGenerator<Page<VmInfo>> {
    yield * this.pages((cursor) => this.listVms({ ...opts, cursor }), opts.cursor)
  }

  /** Every VM of the caller, across pages. */
  async * allVms (opts: ListOptions = {}): AsyncGenerator<VmInfo> {
    for await (const page of this.vmPages(opts)) yield * page.items
  }

  /** GET /v1/vms/{vm} */
  async getVm (vm: string): Promise<VmInfo> {
    return await this.call('GET', `v1/vms/${seg(vm)}`)
  }

  /** DELETE /v1/vms/{vm}: kills it if running, then removes it. */
  async deleteVm (vm: string): Promise<void> {
    await this.call('DELETE', `v1/vms/${seg(vm)}`)
  }

  /** POST /v1/vms/{vm}/actions; 409 FAULTLINE_INVALID_TRANSITION when the state forbids it. */
  async action (vm: string, action: VmAction): Promise<VmInfo> {
    return await this.call('POST', `v1/vms/${seg(vm)}/actions`, { body: { action } })
  }

  // ---- memory ----------------------------------------------------------------------------

  /** GET /v1/vms/{vm}/memory/attributes, every page: sorted, merged extents; gaps are attributes 0. */
  async memoryAttributes (vm: string, gpa?: number, size?: number): Promise<AttributeExtent[]> {
    return await this.allExtents(this.memoryAttributePages(vm, { gpa, size }))
  }

  /** One page of GET /v1/vms/{vm}/memory/attributes (at most `limit` extents, from `cursor`). */
  async memoryAttributesPage (vm: string, opts: MemoryRangeOptions = {}): Promise<ExtentPage<AttributeExtent>> {
    return await this.call('GET', `v1/vms/${seg(vm)}/memory/attributes`, { query: rangeQuery(opts) })
  }

  /** Every page of GET memory/attributes, following `next` until it is null. */
  async * memoryAttributePages (vm: string, opts: MemoryRangeOptions = {}): AsyncGenerator<ExtentPage<AttributeExtent>> {
    yield * this.extentPages((cursor) => this.memoryAttributesPage(vm, { ...opts, cursor }), opts.cursor)
  }

  /**
   * PUT /v1/vms/{vm}/memory/attributes: KVM_SET_MEMORY_ATTRIBUTES (EINVAL → 400 with errno).
   * Resolves with the extents after the change, as the server reports them.
   */
  async setMemoryAttributes (vm: string, attrs: SetMemoryAttributesRequest): Promise<AttributeExtent[]> {
    const body = await this.call<{ extents?: AttributeExtent[] } | undefined>('PUT', `v1/vms/${seg(vm)}/memory/attributes`, { body: attrs })
    return body?.extents ?? []
  }

  /** POST /v1/vms/{vm}/memory/poison: hwpoison the page holding gpa. */
  async poison (vm: string, gpa: number): Promise<{ gpa: number, poisoned: boolean }> {
    return await this.call('POST', `v1/vms/${seg(vm)}/memory/poison`, { body: { gpa } })
  }

  /** GET /v1/vms/{vm}/memory/backing (extension), every page: populated backings and poison per extent. */
  async backing (vm: string, gpa?: number, size?: number): Promise<BackingExtent[]> {
    return await this.allExtents(this.backingPages(vm, { gpa, size }))
  }

  /** One page of GET /v1/vms/{vm}/memory/backing (at most `limit` extents, from `cursor`). */
  async backingPage (vm: string, opts: MemoryRangeOptions = {}): Promise<ExtentPage<BackingExtent>> {
    return await this.call('GET', `v1/vms/${seg(vm)}/memory/backing`, { query: rangeQuery(opts) })
  }

  /** Every page of GET memory/backing, following `next` until it is null. */
  async * backingPages (vm: string, opts: MemoryRangeOptions = {}): AsyncGenerator<ExtentPage<BackingExtent>> {
    yield * this.extentPages((cursor) => this.backingPage(vm, { ...opts, cursor }), opts.cursor)
  }

  // ---- vCPUs and exits -------------------------------------------------------------------

  /** GET /v1/vms/{vm}/vcpus */
  async vcpus (vm: string): Promise<VcpuInfo[]> {
    return itemsOf(await this.call<VcpuInfo[] | { items: VcpuInfo[] }>('GET', `v1/vms/${seg(vm)}/vcpus`))
  }

  /** POST /v1/vms/{vm}/vcpus/{vcpu}/interrupt (extension): make an interrupt pending; the vCPU after it. */
  async injectInterrupt (vm: string, vcpu: number): Promise<VcpuInfo> {
    return await this.call('POST', `v1/vms/${seg(vm)}/vcpus/${seg(vcpu)}/interrupt`)
  }

  /**
   * GET /v1/vms/{vm}/exits: one page of the exit journal, oldest first. The exits' cursor is
   * a seq: a page's `next` is the `since` of the next page (`cursor` is taken as one).
   */
  async exits (vm: string, opts: ExitListOptions = {}): Promise<Page<JournalExit>> {
    const since = opts.cursor !== undefined ? Number(opts.cursor) : opts.since
    return await this.call('GET', `v1/vms/${seg(vm)}/exits`, {
      query: { since, limit: opts.limit, pending: opts.pending }
    })
  }

  /** Every page of the exit journal. */
  async * exitPages (vm: string, opts: ExitListOptions = {}): AsyncGenerator<Page<JournalExit>> {
    yield * this.pages((cursor) => this.exits(vm, { ...opts, cursor }), opts.cursor)
  }

  /** POST /v1/vms/{vm}/exits/{exit}/decision; 409 FAULTLINE_EXIT_NOT_PENDING if decided already. */
  async decide (vm: string, exit: number, action: DecisionAction, opts: DecisionOptions = {}): Promise<JournalExit> {
    return await this.call('POST', `v1/vms/${seg(vm)}/exits/${seg(exit)}/decision`, { body: { action, ...opts } })
  }

  // ---- traces and replays -----------------------------------------------------------------

  /** GET /v1/vms/{vm}/trace: the VM's exit trace, NDJSON (a faultline-trace/1 header, then one record a line). */
  async trace (vm: string): Promise<string> {
    return await requestText(this.http, 'GET', `v1/vms/${seg(vm)}/trace`, { accept: TRACE_MEDIA_TYPE })
  }

  /** POST /v1/replays: replays a trace (its NDJSON text) on a new VM; 4xx with `line` for a bad trace. */
  async createReplay (trace: string, opts: ReplayOptions = {}): Promise<ReplayView> {
    return await this.call('POST', 'v1/replays', {
      query: { decide: opts.decide, on_divergence: opts.on_divergence, name: opts.name },
      raw: { contentType: TRACE_MEDIA_TYPE, text: trace }
    })
  }

  /** GET /v1/replays/{id} */
  async getReplay (id: string): Promise<ReplayView> {
    return await this.call('GET', `v1/replays/${seg(id)}`)
  }

  /** GET /v1/replays: the caller's replays (an admin's: every tenant's), oldest first. */
  async listReplays (): Promise<ReplayView[]> {
    return itemsOf(await this.call<{ items: ReplayView[] }>('GET', 'v1/replays'))
  }

  /** DELETE /v1/replays/{id}: stops the replay if it runs and forgets it (its VM stays). */
  async deleteReplay (id: string): Promise<void> {
    await this.call('DELETE', `v1/replays/${seg(id)}`)
  }

  // ---- the rest --------------------------------------------------------------------------

  /** GET /v1/presets: the built-in guest programs. */
  async presets (): Promise<Preset[]> {
    return itemsOf(await this.call<Preset[] | { items: Preset[] }>('GET', 'v1/presets'))
  }

  /** Opens the exit stream (GET /v1/stream) with this client's URL and token. */
  stream (opts: Omit<ExitStreamOptions, 'url' | 'token'> = {}): ExitStream {
    return new ExitStream({ ...opts, url: this.url, ...(this.token !== undefined ? { token: this.token } : {}) })
  }

  private async * extentPages<T> (fetchPage: (cursor: string | undefined) => Promise<ExtentPage<T>>, first?: string): AsyncGenerator<ExtentPage<T>> {
    for await (const p of this.pages(async (c) => { const r = await fetchPage(c); return { items: r.extents, next: r.next } }, first)) {
      yield { extents: p.items, next: p.next }
    }
  }

  private async allExtents<T> (pages: AsyncGenerator<ExtentPage<T>>): Promise<T[]> {
    const out: T[] = []
    for await (const p of pages) out.push(...p.extents)
    return out
  }

  private async * pages<T> (fetchPage: (cursor: string | undefined) => Promise<Page<T>>, first?: string): AsyncGenerator<Page<T>> {
    let cursor: string | undefined = first
    for (;;) {
      const page = await fetchPage(cursor)
      yield page
      if (page.next === null || page.next === undefined) return
      cursor = page.next
    }
  }
}

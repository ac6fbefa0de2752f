// A bare `ws` client for stream tests over real sockets on 127.0.0.1: it records every frame
// in order and lets a test wait, bounded in time, for the first unclaimed frame that matches.
import WebSocket from 'ws'
import type { ClientOptions } from 'ws'
import type { FastifyInstance } from 'fastify'
import type { StreamStats } from '../../src/stream/hub.js'
import { frameViolation } from '../contract-check.js'

export type Msg = Record<string, unknown> & { type: string }

const WAIT_MS = 5000

export function streamUrl (app: FastifyInstance): string {
  const a = app.server.address()
  if (a === null || typeof a === 'string') throw new Error('the app is not listening on TCP')
  return `ws://127.0.0.1:${a.port}/v1/stream`
}

export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return streamUrl(app)
}

export class WsClient {
  readonly frames: Msg[] = []
  private readonly claimed = new Set<number>()
  private waiters: (() => void)[] = []
  closeInfo: { code: number, reason: string } | undefined
  /** Frames that broke the stream's message schemas (checked on every frame). */
  readonly violations: string[] = []

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data, binary) => {
      const frame = binary ? { type: '<binary>' } : JSON.parse(data.toString()) as Msg
      const bad = frameViolation(frame)
      if (bad !== undefined) this.violations.push(bad)
      this.frames.push(frame)
      this.wake()
    })
    ws.on('close', (code, reason) => { this.closeInfo = { code, reason: reason.toString() }; this.wake() })
    ws.on('error', () => { /* 'close' follows and tells the test */ })
  }

  /** Opens a socket with a Bearer header (or the given protocols/options) and waits for hello. */
  static async open (url: string, token: string | null, opts: ClientOptions & { protocols?: string[] } = {}): Promise<WsClient> {
    const { protocols, ...rest } = opts
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` }
    const ws = new WebSocket(url, protocols ?? [], { headers, ...rest })
    const c = new WsClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode ?? 0}`)))
      ws.once('error', reject)
    })
    await c.next(m => m.type === 'hello')
    return c
  }

  send (m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m))
  }

  /** The first frame not yet claimed that matches; fails after `ms`. */
  async next (match: (m: Msg) => boolean, ms = WAIT_MS): Promise<Msg> {
    const deadline = Date.now() + ms
    for (;;) {
      if (this.violations.length > 0) throw new Error(`the server sent frames outside the contract: ${this.violations.join(' | ')}`)
      for (let i = 0; i < this.frames.length; i++) {
        const m = this.frames[i] as Msg
        if (!this.claimed.has(i) && match(m)) { this.claimed.add(i); return m }
      }
      if (this.closeInfo !== undefined) throw new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching frame in ${ms} ms; last frames: ${JSON.stringify(this.frames.slice(-5))}`)
      await this.wait(left)
    }
  }

  /** The reply (ack, subscribed or error) to the request with this id. */
  async reply (id: string | number, ms = WAIT_MS): Promise<Msg> {
    return await this.next(m => m.id === id && (m.type === 'ack' || m.type === 'error' || m.type === 'subscribed'), ms)
  }

  /** Sends a request with an id and returns its first reply (subscribed, ack or error). */
  async request (m: Record<string, unknown>, ms = WAIT_MS): Promise<Msg> {
    const id = m.id ?? `r${Math.random().toString(36).slice(2)}`
    this.send({ ...m, id })
    return await this.reply(id as string, ms)
  }

  async closed (ms = WAIT_MS): Promise<{ code: number, reason: string }> {
    const deadline = Date.now() + ms
    while (this.closeInfo === undefined) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`socket not closed in ${ms} ms`)
      await this.wait(left)
    }
    return this.closeInfo
  }

  async close (): Promise<void> {
    if (this.closeInfo !== undefined) return
    this.ws.close(1000)
    await this.closed().catch(() => { this.ws.terminate() })
  }

  private async wait (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(done, Math.min(ms, 1000))
      function done (): void { clearTimeout(t); resolve() }
      this.waiters.push(done)
    })
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}

export function stats (app: FastifyInstance): StreamStats {
  return app.streamHub.stats()
}

/** Polls `cond` until it holds, at most `ms`. */
export async function until (cond: () => boolean | Promise<boolean>, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

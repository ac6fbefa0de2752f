// Builds a ready app for a test, with known tokens, and closes it when the test ends.
// Shared by every route and stream test: options cover tokens, limits, clock and settings.
// Every response it serves is checked against the contract (test/contract-check.ts).
import type { FastifyInstance } from 'fastify'
import type { AppSettings } from '../src/app-types.js'
import type { TokenEntry } from '../src/auth/tokens.js'
import type { Clock, Control, Limits } from '../src/control/index.js'
import { localServer } from '../src/local-server.js'
import type { LocalServerOptions } from '../src/local-server.js'
import { responseContract } from './contract-check.js'

/** Tokens every test can use: an admin, and an operator and an observer in tenants a and b. */
export const TOKENS = {
  admin: 'test-admin-token-000000',
  operatorA: 'test-operator-a-token-01',
  observerA: 'test-observer-a-token-02',
  operatorB: 'test-operator-b-token-03',
  observerB: 'test-observer-b-token-04'
} as const

export const TOKEN_ENTRIES: TokenEntry[] = [
  { token: TOKENS.admin, tenant: 'ops', role: 'admin' },
  { token: TOKENS.operatorA, tenant: 'a', role: 'operator' },
  { token: TOKENS.observerA, tenant: 'a', role: 'observer' },
  { token: TOKENS.operatorB, tenant: 'b', role: 'operator' },
  { token: TOKENS.observerB, tenant: 'b', role: 'observer' }
]

export interface BuildTestOptions {
  tokens?: TokenEntry[]
  limits?: Partial<Limits>
  clock?: Clock
  settings?: Partial<AppSettings>
  /** Use this Control instead of a fresh one (its limits/clock options are then ignored). */
  control?: Control
  loggerInstance?: LocalServerOptions['loggerInstance']
}

interface Teardown { teardown (fn: () => unknown): void }

export async function build (t: Teardown, opts: BuildTestOptions = {}): Promise<FastifyInstance> {
  const server = await localServer({
    tokens: opts.tokens ?? TOKEN_ENTRIES,
    ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
    ...(opts.control !== undefined ? { control: opts.control } : {}),
    ...(opts.loggerInstance !== undefined ? { loggerInstance: opts.loggerInstance } : {}),
    settings: {
      // Rate limiting stays on (its path is exercised) but high enough never to trip by accident.
      rateLimitPerMinute: 1_000_000,
      // Off: a loaded CI machine must not shed test requests.
      maxEventLoopDelayMs: 0,
      version: '0.0.0-test',
      ...opts.settings
    },
    before: [responseContract],
    listen: false
  })
  t.teardown(() => server.close())
  return server.app
}

/** The Authorization header for a token. */
export function bearer (token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

/** A fake clock: timers fire only when the test advances time. */
export class FakeClock implements Clock {
  private t = 0
  private nextId = 1
  private readonly timers = new Map<number, { at: number, fn: () => void }>()
  now (): number { return this.t }
  setTimeout (fn: () => void, ms: number): unknown {
    const id = this.nextId++
    this.timers.set(id, { at: this.t + ms, fn })
    return id
  }
  clearTimeout (h: unknown): void { this.timers.delete(h as number) }
  get pending (): number { return this.timers.size }
  /** Moves time forward, firing due timers in order. */
  advance (ms: number): void {
    const end = this.t + ms
    for (;;) {
      let next: [number, { at: number, fn: () => void }] | undefined
      for (const e of this.timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e
      if (next === undefined) break
      this.timers.delete(next[0])
      this.t = next[1].at
      next[1].fn()
    }
    this.t = end
  }
}

/** Resolves after the scheduler has had `rounds` turns of the event loop. */
export async function settle (rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

// Reconnect delays: exponential, capped, with "equal jitter" (half fixed, half random) so a
// fleet of clients that lost the same server does not come back in lockstep, yet none
// retries sooner than half the nominal delay.

export interface BackoffOptions {
  /** The first delay, in ms. Default 100. */
  initialDelayMs?: number
  /** The largest delay, in ms. Default 5000. */
  maxDelayMs?: number
  /** Growth per attempt. Default 2. */
  factor?: number
  /** Consecutive failed attempts before giving up. Default 10; Infinity never gives up. */
  maxAttempts?: number
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialDelayMs: 100,
  maxDelayMs: 5000,
  factor: 2,
  maxAttempts: 10
}

/** The delay before attempt `attempt` (0-based); `random` is in [0, 1). */
export function backoffDelay (attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const o = { ...DEFAULT_BACKOFF, ...opts }
  const nominal = Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** attempt)
  return Math.round(nominal / 2 + random() * nominal / 2)
}

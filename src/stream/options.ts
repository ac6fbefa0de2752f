// The stream's limits and timers. Each one bounds what one socket can cost the server: a
// peer that stops reading, stops answering pings or subscribes to everything.

export interface StreamOptions {
  /** How often every socket is pinged; a socket that has not answered the previous ping is terminated. 0 turns heartbeats off. */
  heartbeatMs: number
  /** Bytes a socket may have queued and unsent; past it the socket is closed with 1013. */
  maxBufferedBytes: number
  /** Subscriptions (VM ids and "*") one socket may hold at once. */
  maxSubscriptions: number
  /** A socket that controls no VM gets its frames in batches this often; 0 sends each at once. */
  observerFlushMs: number
  /** At most this long after frames went to a controller, the server polls for its answer rather than sleep (poll.ts), µs; 0 never. */
  pollUs: number
  /** Stream sockets one token may have open at once; an upgrade past it is refused (429). */
  maxSocketsPerToken: number
  /** The server's version, for `hello`. */
  version: string
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = {
  heartbeatMs: 30_000,
  // Enough for a burst of a few thousand events; a healthy reader drains it in milliseconds.
  maxBufferedBytes: 4 * 1024 * 1024,
  maxSubscriptions: 1024,
  // Observers see events a few ms late; in exchange a VM with many observers keeps its
  // controller's round trip (one write per observer per batch, not per event).
  observerFlushMs: 5,
  // KVM's default halt_poll_ns on x86 (KVM_HALT_POLL_NS_DEFAULT), for the same reason.
  pollUs: 200,
  // Enough for a controller per worker process of one client; each socket is a file descriptor.
  maxSocketsPerToken: 64,
  version: '0.0.0'
}

/** Defaults overlaid with whatever was given, ignoring keys given as undefined. */
export function streamOptions (...given: (Partial<StreamOptions> | undefined)[]): StreamOptions {
  const out: StreamOptions = { ...DEFAULT_STREAM_OPTIONS }
  for (const g of given) {
    if (g === undefined) continue
    for (const k of Object.keys(out) as (keyof StreamOptions)[]) {
      const v = g[k]
      if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v
    }
  }
  return out
}

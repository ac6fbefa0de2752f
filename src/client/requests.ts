// The stream requests waiting for their reply, each typed by what answers it: a subscribe
// by `subscribed`, an unsubscribe and a decision by `ack`; any of them by `error`. A request
// with no reply in time rejects with TIMEOUT.
import type {
  AckMessage, DecisionMessage, SubscribedMessage, SubscribeMessage, UnsubscribeMessage
} from '../../schemas/stream.js'
import { FaultlineStreamError } from './errors.js'

interface RequestBase {
  /** The id the client gave the message; the server echoes it in the reply. */
  id: string
  vm: string
  /** Written to the current socket (a reconnect sends the unsent ones again). */
  sent: boolean
  reject: (error: FaultlineStreamError) => void
  timer: ReturnType<typeof setTimeout> | undefined
}

export type PendingRequest =
  | RequestBase & {
    kind: 'subscribe'
    message: SubscribeMessage
    /** SEQ_EXPIRED: the since asked for, to report the gap once subscribed afresh. */
    gapSince?: number
    resolve: (reply: SubscribedMessage) => void
  }
  | RequestBase & { kind: 'unsubscribe', message: UnsubscribeMessage, resolve: (reply: AckMessage | undefined) => void }
  | RequestBase & { kind: 'decision', message: DecisionMessage, resolve: (reply: AckMessage) => void }

export type RequestKind = PendingRequest['kind']

/** A request as track() takes it: everything but the bookkeeping it adds. */
export type NewRequest = PendingRequest extends infer R ? R extends PendingRequest ? Omit<R, 'id' | 'sent' | 'timer'> : never : never

export class RequestTracker {
  private readonly byId = new Map<string, PendingRequest>()
  private nextId = 1

  constructor (private readonly timeoutMs: number) {}

  /** Registers a request under a fresh id; it rejects with TIMEOUT if unanswered in time. */
  track (r: NewRequest): PendingRequest {
    const req = { ...r, id: `c${this.nextId++}`, sent: false, timer: undefined } as PendingRequest
    if (this.timeoutMs > 0) {
      req.timer = setTimeout(() => {
        this.settle(req)
        req.reject(new FaultlineStreamError('TIMEOUT', `no reply to ${req.kind} ${req.vm} in ${this.timeoutMs} ms`, { vm: req.vm }))
      }, this.timeoutMs)
    }
    this.byId.set(req.id, req)
    return req
  }

  /** Forgets a request (answered, timed out or abandoned). */
  settle (req: PendingRequest): void {
    clearTimeout(req.timer)
    this.byId.delete(req.id)
  }

  /** The request a reply answers: by its id, or (a reply without our id) by what it is about. */
  find (id: unknown, kind?: RequestKind, vm?: string): PendingRequest | undefined {
    if (id !== undefined && id !== null) {
      const req = this.byId.get(String(id))
      if (req !== undefined) return req
    }
    if (kind === undefined || vm === undefined) return undefined
    for (const req of this.byId.values()) {
      if (req.sent && req.kind === kind && req.vm === vm) return req
    }
    return undefined
  }

  /** Every waiting request, oldest first (a copy: settling while iterating is safe). */
  all (): PendingRequest[] { return [...this.byId.values()] }

  /** Rejects and forgets every waiting request. */
  rejectAll (error: FaultlineStreamError): void {
    for (const req of this.all()) { this.settle(req); req.reject(error) }
  }
}

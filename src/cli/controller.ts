// The controller loop behind `faultline decide` and the demo: subscribe to one VM as its
// controller, put every exit through a policy, send the decision, and stop when the VM is
// done (or the caller aborts, or another controller takes over).
import type { FaultlineClient } from '../client/client.js'
import { FaultlineStreamError } from '../client/errors.js'
import type { ExitStream } from '../client/stream.js'
import type { ExitMessage, StateMessage, StreamVmState } from '../client/types.js'
import type { AsyncPolicy, PolicyDecision } from './policies.js'

/** States a VM does not leave by itself: a controller's work is over (`deleted`: the VM is gone). */
export const FINAL_STATES: ReadonlySet<StreamVmState> = new Set(['stopped', 'killed', 'crashed', 'deleted'])

export type DecisionOutcome =
  | { ok: true, ms: number }
  /** `fallback`: a refused conversion, answered with kill. */
  | { ok: false, error: FaultlineStreamError, fallback?: PolicyDecision }

export interface ControllerHooks {
  onExit?: (exit: ExitMessage) => void
  onDecision?: (exit: ExitMessage, decision: PolicyDecision, outcome: DecisionOutcome) => void
  onState?: (state: StateMessage) => void
  /** Called once this stream controls the VM: the moment to start it, say. */
  onSubscribed?: () => void | Promise<void>
}

export interface ControllerOptions extends ControllerHooks {
  client: FaultlineClient
  stream: ExitStream
  vm: string
  policy: AsyncPolicy
  takeover?: boolean
  /** Keep deciding after the VM stops (it may be started again). */
  follow?: boolean
  signal?: AbortSignal
  now?: () => number
}

export type ControllerEnd =
  | { reason: 'final', state: StreamVmState }
  | { reason: 'revoked' }
  | { reason: 'aborted' }

export async function runController (opts: ControllerOptions): Promise<ControllerEnd> {
  const { stream, vm, policy } = opts
  const now = opts.now ?? (() => performance.now())
  let finish!: (end: ControllerEnd) => void
  const ended = new Promise<ControllerEnd>((resolve) => { finish = resolve })
  // A deleted VM sends nothing more, so even a follower is done. A crashed VM still holds its
  // crash exit, pending: the controller's work ends once that is decided (kill, or reset).
  const isFinal = (state: StreamVmState, pending: number): boolean =>
    state === 'deleted' || (opts.follow !== true && FINAL_STATES.has(state) && !(state === 'crashed' && pending > 0))

  const onState = (s: StateMessage): void => {
    if (s.vm !== vm) return
    opts.onState?.(s)
    // A crash is announced with its exit pending (docs/api.md, Lifecycle).
    if (isFinal(s.state, s.state === 'crashed' ? 1 : 0)) finish({ reason: 'final', state: s.state })
  }
  const onRevoked = (r: { vm: string }): void => { if (r.vm === vm) finish({ reason: 'revoked' }) }
  const onAbort = (): void => finish({ reason: 'aborted' })
  stream.on('state', onState)
  stream.on('revoked', onRevoked)
  if (opts.signal?.aborted === true) onAbort()
  opts.signal?.addEventListener('abort', onAbort, { once: true })

  const inflight = new Set<Promise<void>>()
  const send = (exit: ExitMessage, decision: PolicyDecision, fallbackAllowed: boolean): void => {
    const started = now()
    const { action, ...rest } = decision
    const p = stream.decide(vm, exit, action, rest).then(
      () => { opts.onDecision?.(exit, decision, { ok: true, ms: now() - started }) },
      (e: unknown) => {
        const error = e instanceof FaultlineStreamError ? e : new FaultlineStreamError('ERROR', String(e))
        // The server refuses a conversion that cannot help (private access without
        // guest_memfd): the exit stays pending, and QEMU would stop the VM here.
        if (fallbackAllowed && error.code === 'INVALID_ACTION' && action === 'convert') {
          const fallback: PolicyDecision = { action: 'kill', reason: `conversion refused: ${error.message}`.slice(0, 256) }
          opts.onDecision?.(exit, decision, { ok: false, error, fallback })
          send(exit, fallback, false)
          return
        }
        opts.onDecision?.(exit, decision, { ok: false, error })
      }
    ).finally(() => { inflight.delete(p) })
    inflight.add(p)
  }

  let end: ControllerEnd | undefined
  try {
    await stream.subscribe(vm, { role: 'controller', ...(opts.takeover === true ? { takeover: true } : {}) })
    // Subscribed first, then read the state: a change in between arrives as an event.
    const info = await opts.client.getVm(vm)
    if (isFinal(info.state, info.counters.pending)) finish({ reason: 'final', state: info.state })
    await opts.onSubscribed?.()
    const exits = stream.exits()
    for (;;) {
      const next = await Promise.race([exits.next(), ended])
      if (!('done' in next)) break
      // The stream was closed under us: nothing more will come.
      if (next.done === true) { finish({ reason: 'aborted' }); break }
      if (next.value.vm !== vm) continue
      opts.onExit?.(next.value)
      send(next.value, await policy(next.value), true)
    }
    end = await ended
    return end
  } finally {
    stream.off('state', onState)
    stream.off('revoked', onRevoked)
    opts.signal?.removeEventListener('abort', onAbort)
    // Let the last decisions report (a kill that ended the VM, say), unless told to stop now.
    while (end !== undefined && end.reason !== 'aborted' && inflight.size > 0) await Promise.allSettled([...inflight])
  }
}

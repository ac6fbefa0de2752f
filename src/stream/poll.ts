// Polling for a controller's answer instead of sleeping, the way KVM polls for a wakeup
// before it puts a halted vCPU to sleep (Documentation/virt/kvm/halt-polling.rst;
// grow_halt_poll_ns() and shrink_halt_poll_ns() in virt/kvm/kvm_main.c).
//
// After frames go to a controlling socket, the server usually has nothing to do until the
// decision comes back. Asleep in epoll_wait, it is woken by the kernel when it does, and on
// a VM its idle core first has to be woken by the hypervisor: on the benchmark machine
// that wake-up was most of a 1-vCPU round trip (150 µs at p50 asleep, 65 µs polling).
// Polling here is a chain of setImmediate callbacks: while one is queued, libuv polls with a
// zero timeout, so a decision is read as soon as it arrives, and any other work (other
// sockets, the scheduler's ticks, timers) runs in the same loop as always. Nothing waits on
// the poll; it only keeps the loop from sleeping.
//
// The window adapts as KVM's does: an answer within the window leaves it; an answer that
// came later but within the most leaves room to grow (doubled, from POLL_GROW_START_US);
// an answer later than the most (a person deciding, a slow client) halves it, down to no
// polling at all. So a server whose clients answer slowly soon stops polling, and one
// whose clients answer fast polls about as long as they take.
import { performance } from 'node:perf_hooks'

/** The first window a growing one takes (KVM's halt_poll_ns_grow_start: 10 µs). */
export const POLL_GROW_START_US = 10

export interface PollTimer {
  /** ms */
  now: () => number
  /** Runs `fn` at the next turn of the event loop, keeping the loop from sleeping until then. */
  next: (fn: () => void) => void
}

const REAL: PollTimer = { now: () => performance.now(), next: (fn) => { setImmediate(fn) } }

export class AnswerPoll {
  /** The current window, µs. */
  private window = 0
  /** When frames last went to a controller and no message has come in since (ms), else undefined. */
  private sentAt: number | undefined
  /** Polling goes on until then (ms). */
  private deadline = 0
  private polling = false

  /** `maxUs`: the most a window grows to; 0 turns polling off. */
  constructor (private readonly maxUs: number, private readonly timer: PollTimer = REAL) {}

  get windowUs (): number { return this.window }
  get isPolling (): boolean { return this.polling }

  /** Frames went to a controlling socket: its answer is likely soon. */
  sent (): void {
    if (this.maxUs <= 0) return
    const t = this.timer.now()
    this.sentAt ??= t
    if (this.window === 0) return
    this.deadline = t + this.window / 1000
    if (!this.polling) {
      this.polling = true
      this.timer.next(this.poll)
    }
  }

  /** A message came in on a stream socket: how long it took tells the window how to move. */
  heard (): void {
    if (this.sentAt === undefined) return
    const waitedUs = (this.timer.now() - this.sentAt) * 1000
    this.sentAt = undefined
    if (waitedUs <= this.window) return
    if (waitedUs > this.maxUs) this.window = this.window < 2 ? 0 : Math.floor(this.window / 2)
    else this.window = Math.min(this.maxUs, Math.max(POLL_GROW_START_US, this.window * 2))
  }

  private readonly poll = (): void => {
    if (this.timer.now() >= this.deadline) { this.polling = false; return }
    this.timer.next(this.poll)
  }
}

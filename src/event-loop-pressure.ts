// Whether the event loop lags: the mean delay over each sample interval, measured by Node's
// own histogram. Nothing here opens a file, so it keeps working when the process is out of
// file descriptors (under-pressure's memory probe threw EMFILE there and took the server down).
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { IntervalHistogram } from 'node:perf_hooks'

const RESOLUTION_MS = 10

export class EventLoopPressure {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  private readonly timer: NodeJS.Timeout
  /** The mean delay of the last interval, ms past the histogram's own resolution. */
  private delayMs = 0

  constructor (private readonly maxDelayMs: number, sampleMs = 1000) {
    this.histogram.enable()
    this.timer = setInterval(() => { this.sample() }, sampleMs)
    // The server's lifetime is decided by listen/close, not by this timer.
    this.timer.unref()
  }

  get lastDelayMs (): number { return this.delayMs }

  isUnderPressure (): boolean { return this.delayMs > this.maxDelayMs }

  close (): void {
    clearInterval(this.timer)
    this.histogram.disable()
  }

  private sample (): void {
    const mean = this.histogram.mean / 1e6 - RESOLUTION_MS
    // No sample at all in an interval means the loop was blocked for all of it.
    this.delayMs = Number.isNaN(mean) ? Infinity : Math.max(0, mean)
    this.histogram.reset()
  }
}

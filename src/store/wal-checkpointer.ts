// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the commit
// that crosses its threshold: it copies the whole WAL into the database and syncs both,
// which held the event loop for tens of milliseconds every few seconds under load (about
// 10% of the loop's time in a throughput run, and a latency spike for every VM). Here a
// worker thread with its own connection runs PASSIVE checkpoints (they never block the
// writer, and the writer never waits for them) once the writer has written CHECKPOINT_KIB
// since the last one, or MAX_WAIT_MS after a write.
//
// Not on every short period: each checkpoint syncs the WAL and the database, and copies
// the last version of every page written since the one before; the page a commit appends
// to is written again by the next commits, so a checkpoint per 8 MiB copies it once where a
// checkpoint per 50 ms copied it each time. Measured in the store's throughput run: about
// a third of the worker's CPU, and 2 to 9 µs of the server's per exit.
//
// A PASSIVE checkpoint under a steady stream of commits never quite catches up, and the
// WAL is only rewound when one has: so once the worker has copied all but the last few
// frames it says so, and the writer runs one small PASSIVE checkpoint of its own between
// two commits (the remaining frames, usually none or a few pages), after which its next
// commit starts the WAL again from the beginning. journal_size_limit trims the file then.
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** How often the worker looks at what was written. */
const PERIOD_MS = 50
/** It checkpoints once the writer has written this much (about 2,048 frames of 4 KiB)... */
const CHECKPOINT_KIB = 8 * 1024
/** ...or this long after a write that is not yet checkpointed. */
const MAX_WAIT_MS = 1000
/**
 * The writer finishes a checkpoint (and so rewinds the WAL) once the WAL holds this many
 * frames (16 MiB at 4 KiB pages) and the worker has copied all but SLACK_FRAMES of them:
 * the finish costs the writer a sync or two (a few ms here), so it comes once per 16 MiB
 * written, not on every period.
 */
const REWIND_FRAMES = 4096
const SLACK_FRAMES = 64
/** The worker waits this long for a checkpoint in progress when the store closes. */
const CLOSE_WAIT_MS = 5000

// The worker's code, plain CommonJS (evaluated): no loader or build step is needed for it.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const done = new Int32Array(workerData.done)
const finished = () => { Atomics.store(done, 0, 1); Atomics.notify(done, 0) }
// [1]: KiB the writer wrote since the last checkpoint.
let lastCheckpoint = Date.now()
let db
try {
  db = new Database(workerData.file, { fileMustExist: true })
} catch (e) {
  parentPort.postMessage({ failed: String((e && e.message) || e) })
  finished()
}
if (db !== undefined) {
  const timer = setInterval(() => {
    const kib = Atomics.load(done, 1)
    if (kib < workerData.checkpointKib && (kib === 0 || Date.now() - lastCheckpoint < workerData.maxWait)) return
    Atomics.sub(done, 1, kib)
    lastCheckpoint = Date.now()
    try {
      const r = db.pragma('wal_checkpoint(PASSIVE)')[0]
      // log: frames in the WAL; checkpointed: frames copied. A WAL worth rewinding, almost
      // all copied: the writer finishes it between two commits.
      if (r.busy === 0 && r.log >= workerData.rewind && r.log - r.checkpointed <= workerData.slack) parentPort.postMessage({ caughtUp: r.log })
    } catch (e) {
      parentPort.postMessage({ failed: String((e && e.message) || e) })
    }
  }, workerData.period)
  parentPort.on('message', () => {
    clearInterval(timer)
    try { db.close() } catch {}
    finished()
    parentPort.close()
  })
}
`

/** Runs a database's WAL checkpoints in a worker thread; the writer's connection has wal_autocheckpoint = 0. */
export class WalCheckpointer {
  private readonly worker: Worker
  /** [0]: the worker is done (closed); [1]: KiB written since its last checkpoint. */
  private readonly done = new Int32Array(new SharedArrayBuffer(8))
  private caughtUp = false
  private closed = false

  /**
   * `finish` runs the writer's own small checkpoint; `fallback` gives checkpoints back to
   * the writer (automatic ones) if the worker cannot run them.
   */
  constructor (file: string, private readonly finish: () => void, private readonly fallback: (why: string) => void) {
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { file, module: createRequire(import.meta.url).resolve('better-sqlite3'), done: this.done.buffer, period: PERIOD_MS, checkpointKib: CHECKPOINT_KIB, maxWait: MAX_WAIT_MS, slack: SLACK_FRAMES, rewind: REWIND_FRAMES }
    })
    // The worker never keeps the process alive: the store's close ends it.
    this.worker.unref()
    this.worker.on('message', (m: { caughtUp?: number, failed?: string }) => {
      if (m.failed !== undefined) this.stop(m.failed)
      else this.caughtUp = true
    })
    this.worker.on('error', (e) => { this.stop(e.message) })
  }

  /**
   * After each commit of about `bytes` to the WAL: counts them toward the next checkpoint,
   * and rewinds the WAL once the worker has copied (almost) all of it.
   */
  afterCommit (bytes: number): void {
    // Stopped (SQLite's own checkpoints took over) or closed: nothing counts the bytes.
    if (this.closed) return
    Atomics.add(this.done, 1, Math.ceil(bytes / 1024))
    if (!this.caughtUp) return
    this.caughtUp = false
    // The commit is in the file whatever happens here: a finish that fails is the
    // checkpoints' failure (SQLite's automatic ones take over), not the commit's.
    try {
      this.finish()
    } catch (e) {
      this.stop(`the writer's checkpoint failed (${e instanceof Error ? e.message : String(e)})`)
    }
  }

  /** Ends the worker, waiting (bounded) for a checkpoint in progress to finish first. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.worker.postMessage('close')
    Atomics.wait(this.done, 0, 0, CLOSE_WAIT_MS)
    void this.worker.terminate()
  }

  private stop (why: string): void {
    if (this.closed) return
    this.closed = true
    void this.worker.terminate()
    this.fallback(why)
  }
}

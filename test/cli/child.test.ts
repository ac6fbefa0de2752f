// The controller process: its output tail, and a stop that always ends it and everything it
// started in its group, even when it ignores SIGTERM.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { startController } from '../../src/cli/child.js'
import { plainEnv } from '../child-env.js'

const node = (script: string): string[] => [process.execPath, '-e', script]
/** Running: signalable and, where /proc tells, not a zombie waiting for a parent that may never reap it. */
function alive (pid: number): boolean {
  try { process.kill(pid, 0) } catch { return false }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) } catch { return true }
}

void t.test('a controller that ends by itself: its exit code and its output', async (t) => {
  const c = startController(node('process.stdout.write("x".repeat(20000) + "END"); process.stderr.write("err"); process.exit(5)'), plainEnv())
  t.equal(await c.stop(5000), 'exit code 5')
  t.equal(c.endedAs, 'exit code 5')
  t.ok(c.output().length <= 16 * 1024, 'only the tail is kept')
  t.match(c.output(), /END/)
  t.match(c.output(), /err/)
})

void t.test('stop: SIGTERM first, SIGKILL for one that ignores it, and its whole group goes', async (t) => {
  const polite = startController(node('setInterval(() => {}, 1000)'), plainEnv())
  t.equal(await polite.stop(0), 'signal SIGTERM')

  // It starts a grandchild in its group, prints the grandchild's pid, and ignores SIGTERM.
  const stubborn = startController(node(`
    const { spawn } = require('node:child_process')
    const g = spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    process.on('SIGTERM', () => {})
    console.log('grandchild ' + g.pid)
    setInterval(() => {}, 1000)`), plainEnv())
  let pid: number | undefined
  for (let i = 0; i < 200 && pid === undefined; i++) {
    pid = Number(/grandchild (\d+)/.exec(stubborn.output())?.[1]) || undefined
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.ok(pid !== undefined && alive(pid), 'the grandchild runs')
  t.equal(await stubborn.stop(0, 200), 'signal SIGKILL')
  for (let i = 0; i < 200 && pid !== undefined && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.notOk(pid !== undefined && alive(pid), 'the grandchild went with it')
})

void t.test('a command that cannot start, and no command at all', async (t) => {
  const c = startController(['/nonexistent/controller'], plainEnv())
  t.equal(await c.ended, 'failed to start: ENOENT')
  t.equal(await c.stop(0), 'failed to start: ENOENT')
  t.throws(() => startController([], plainEnv()), /no controller command/)
})

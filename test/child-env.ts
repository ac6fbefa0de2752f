// The environment for a process a test starts as a user would: the test runner's loaders
// and coverage stay out, or tsx-compiled or built code would be counted against the wrong
// source lines. tap re-adds its loader to every child spawned under it, so its coverage is
// switched off by the one variable that loader reads for that.
const RUNNER = /^(NODE_OPTIONS|NODE_V8_COVERAGE|_TAPJS_.*|TAP(_.*)?)$/

export function plainEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!RUNNER.test(k)) env[k] = v
  return { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0', ...extra }
}

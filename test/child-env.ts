// The environment for a process a test starts as a user would: the test runner's loaders
// and coverage collection stay out (tsx-compiled or built code would be misattributed).
const RUNNER = /^(NODE_OPTIONS|NODE_V8_COVERAGE|_TAPJS_.*|TAP(_.*)?)$/

export function plainEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!RUNNER.test(k)) env[k] = v
  return { ...env, ...extra }
}

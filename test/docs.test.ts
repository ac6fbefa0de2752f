// The error table in docs/api.md is the one users read: it must list every code the service
// can send (schemas/errors.ts) with its status, and nothing else.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { ERROR_CODES } from '../schemas/errors.js'
import { REST_CODE_PREFIX } from '../schemas/protocol.js'

void t.test('docs/api.md lists exactly the error table, with each status', async t => {
  const text = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8')
  const documented = new Map<string, number>()
  for (const m of text.matchAll(/^\| `FAULTLINE_([A-Z_]+)` \| (\d{3}) \|/gm)) documented.set(m[1] as string, Number(m[2]))
  const table = new Map(Object.entries(ERROR_CODES).map(([code, e]) => [code, e.status]))
  t.same(Object.fromEntries([...documented].sort()), Object.fromEntries([...table].sort()),
    `every ${REST_CODE_PREFIX}* code in the docs is in schemas/errors.ts with the same status, and the reverse`)
})

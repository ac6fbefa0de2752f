// JUnit XML, the report format CI systems read (GitHub Actions reporters, GitLab, Jenkins):
// one <testsuite> per command run, one <testcase> per case or trace, a <failure> per problem.
// Text is escaped for XML 1.0, and characters XML cannot hold at all are replaced.

export interface JUnitFailure {
  /** One line: the attribute. */
  message: string
  /** Free text: the element's body. */
  text?: string
  type?: string
}

export interface JUnitCase {
  name: string
  classname: string
  ms: number
  failures: JUnitFailure[]
  /** An error (the case could not be run), as opposed to a failure (it ran and failed). */
  error?: JUnitFailure
  systemOut?: string
}

export interface JUnitSuite {
  name: string
  cases: JUnitCase[]
  /** ISO 8601. */
  timestamp?: string
}

// Not allowed anywhere in an XML 1.0 document: C0 controls but tab, LF, CR; lone surrogates; U+FFFE/U+FFFF.
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** Text or an attribute value, escaped; characters XML cannot hold become U+FFFD. */
export function xmlEscape (text: string): string {
  return text.replace(NOT_XML, '\ufffd').replace(/[&<>"']/g, (ch) => {
    switch (ch) {
      case '&': return '&amp;'
      case '<': return '&lt;'
      case '>': return '&gt;'
      case '"': return '&quot;'
      default: return '&apos;'
    }
  })
}

const attrs = (pairs: Record<string, string | number | undefined>): string =>
  Object.entries(pairs).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`).join('')

const seconds = (ms: number): string => (ms / 1000).toFixed(3)

function problem (tag: 'failure' | 'error', f: JUnitFailure): string {
  const open = `<${tag}${attrs({ message: f.message, type: f.type })}`
  return f.text === undefined || f.text === '' ? `${open}/>` : `${open}>${xmlEscape(f.text)}</${tag}>`
}

export function junitXml (suite: JUnitSuite): string {
  const failures = suite.cases.reduce((n, c) => n + (c.failures.length > 0 ? 1 : 0), 0)
  const errors = suite.cases.reduce((n, c) => n + (c.error !== undefined ? 1 : 0), 0)
  const total = suite.cases.reduce((n, c) => n + c.ms, 0)
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: suite.name, tests: suite.cases.length, failures, errors, time: seconds(total) })}>`,
    `  <testsuite${attrs({ name: suite.name, tests: suite.cases.length, failures, errors, skipped: 0, time: seconds(total), timestamp: suite.timestamp })}>`
  ]
  for (const c of suite.cases) {
    const body = [
      ...c.failures.map((f) => problem('failure', f)),
      ...(c.error !== undefined ? [problem('error', c.error)] : []),
      ...(c.systemOut !== undefined && c.systemOut !== '' ? [`<system-out>${xmlEscape(c.systemOut)}</system-out>`] : [])
    ]
    const open = `    <testcase${attrs({ name: c.name, classname: c.classname, time: seconds(c.ms) })}`
    lines.push(body.length === 0 ? `${open}/>` : `${open}>\n${body.map((b) => `      ${b}`).join('\n')}\n    </testcase>`)
  }
  lines.push('  </testsuite>', '</testsuites>', '')
  return lines.join('\n')
}

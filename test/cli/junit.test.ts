// The JUnit writer: what a CI system reads back, through a strict XML reader (test/cli/xml.ts),
// which itself must refuse what XML refuses, or the round trip would prove nothing.
import t from 'tap'
import { junitXml, xmlEscape } from '../../src/cli/junit.js'
import { findAll, parseXml } from './xml.js'

const NASTY = 'a <b> & "c" \'d\' \u0001\u001b[31m ]]> \ud800 \u{1f600} \t\r\n end'

void t.test('escaping: markup characters become entities, characters XML cannot hold become U+FFFD', async (t) => {
  t.equal(xmlEscape('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;')
  t.equal(xmlEscape('\u0000\u0008\u000b\u000c\u001f\ufffe\uffff'), '\ufffd'.repeat(7))
  t.equal(xmlEscape('\t\n\r'), '\t\n\r', 'tab, LF and CR are XML')
  t.equal(xmlEscape('\ud800x\udc00'), '\ufffdx\ufffd', 'lone surrogates')
  t.equal(xmlEscape('\u{1f600}'), '\u{1f600}', 'a surrogate pair is one character and stays')
})

void t.test('a suite round-trips through a strict reader, with counts, failures, errors and output', async (t) => {
  const xml = junitXml({
    name: 'faultline <test>',
    timestamp: '2026-11-30T10:00:00.000Z',
    cases: [
      { name: 'passes', classname: 'x.y', ms: 1234, failures: [] },
      { name: NASTY, classname: 'x.y', ms: 5, failures: [{ message: NASTY, type: 'divergence', text: NASTY }, { message: 'second' }], systemOut: NASTY },
      { name: 'broken', classname: 'x.z', ms: 0, failures: [], error: { message: 'could not run', text: 'ENOENT' } }
    ]
  })
  const root = parseXml(xml)
  t.equal(root.name, 'testsuites')
  t.match(root.attrs, { name: 'faultline <test>', tests: '3', failures: '1', errors: '1', time: '1.239' })
  const suite = findAll(root, 'testsuite')[0]
  t.match(suite?.attrs, { tests: '3', failures: '1', errors: '1', skipped: '0', timestamp: '2026-11-30T10:00:00.000Z' })
  const cases = findAll(root, 'testcase')
  t.same(cases.map((c) => c.attrs.time), ['1.234', '0.005', '0.000'])
  const expected = NASTY.replace('\u0001', '\ufffd').replace('\u001b', '\ufffd').replace('\ud800', '\ufffd')
  t.equal(cases[1]?.attrs.name, expected, 'attribute text comes back as written, less what XML cannot hold')
  const failures = findAll(cases[1] as never, 'failure')
  t.same(failures.map((f) => f.attrs.message), [expected, 'second'])
  t.equal(failures[0]?.attrs.type, 'divergence')
  t.equal(failures[0]?.text, expected)
  t.equal(findAll(cases[1] as never, 'system-out')[0]?.text, expected)
  t.match(findAll(cases[2] as never, 'error')[0], { attrs: { message: 'could not run' }, text: 'ENOENT' })
  t.equal(cases[0]?.children.length, 0)
})

void t.test('the reader refuses what XML refuses', async (t) => {
  const bad = [
    '<a><b></a></b>', '<a>', '<a></a><b/>', '<a x=1/>', '<a x="1" x="2"/>', '<a>1 < 2</a>', '<a>fish & chips</a>',
    '<a>&nbsp;</a>', '<a>\u0001</a>', 'text<a/>', '<1a/>', '</a>', '<a', '<?xml version="1.0"', ''
  ]
  for (const doc of bad) t.throws(() => parseXml(doc), JSON.stringify(doc))
  t.same(parseXml('<?xml version="1.0"?>\n<a k="&lt;&amp;&gt;"><b/>x&amp;y</a>\n'), {
    name: 'a', attrs: { k: '<&>' }, children: [{ name: 'b', attrs: {}, children: [], text: '' }], text: 'x&y'
  })
})

// The bench's latency chart (bench/lib/svg.ts) at a tiny size: well-formed SVG, one line
// per series, its p50 and p99 named, text escaped.
import t from 'tap'
import { latencySvg } from '../bench/lib/svg.js'

void t.test('a latency chart is an SVG with each series, its p50 and p99', async t => {
  const fast = Array.from({ length: 100 }, (_, i) => 50 + i)
  const slow = Array.from({ length: 100 }, (_, i) => 100 + 2 * i)
  const svg = latencySvg('exit <round> trip & echo', [{ name: 'faultline', samplesUs: fast, color: '#c33' }, { name: 'echo', samplesUs: slow, color: '#36c' }])
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  t.ok(svg.trimEnd().endsWith('</svg>'))
  t.equal(svg.match(/<polyline /g)?.length, 2, 'one line per series')
  t.match(svg, /faultline: p50 99 µs, p99 150 µs \(n=100\)/)
  t.match(svg, /echo: p50 200 µs, p99 300 µs/)
  t.match(svg, /exit &lt;round&gt; trip &amp; echo/, 'the title is escaped')
  t.notMatch(svg, /NaN|Infinity|undefined/)
  t.throws(() => latencySvg('none', [{ name: 'x', samplesUs: [], color: '#000' }]))
})

// Latency distributions drawn as a plain SVG (no dependency): one histogram line per
// series over log-spaced buckets, the share of samples on the y axis, with each series'
// p50 and p99 marked. The stream bench writes docs/bench/exit-latency.svg with it.

export interface Series { name: string, samplesUs: number[], color: string }

const W = 720
const H = 360
const PAD = { left: 56, right: 16, top: 40, bottom: 64 }

function escape (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function quantile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN
}

function label (us: number): string {
  return us >= 1000 ? `${+(us / 1000).toPrecision(2)} ms` : `${+us.toPrecision(2)} µs`
}

/** The SVG text of the series' distributions, `buckets` log-spaced bins across all of them. */
export function latencySvg (title: string, series: Series[], buckets = 40): string {
  const all = series.flatMap(s => s.samplesUs).filter(v => v > 0)
  if (all.length === 0) throw new Error('latencySvg: no samples')
  // From the smallest sample to the 99.9th percentile of all: a few outliers do not squash the plot.
  const sortedAll = [...all].sort((a, b) => a - b)
  const lo = sortedAll[0] as number
  const hi = Math.max(lo * 1.01, quantile(sortedAll, 0.999))
  const ln = Math.log(hi / lo)
  const x = (us: number): number => PAD.left + (W - PAD.left - PAD.right) * Math.min(1, Math.max(0, Math.log(us / lo) / ln))
  const shares = series.map(s => {
    const counts = new Array<number>(buckets).fill(0)
    for (const v of s.samplesUs) {
      const b = Math.min(buckets - 1, Math.max(0, Math.floor(Math.log(Math.max(v, lo) / lo) / ln * buckets)))
      counts[b] = (counts[b] ?? 0) + 1
    }
    return counts.map(c => c / Math.max(1, s.samplesUs.length))
  })
  const top = Math.max(...shares.flat(), 1e-9)
  const y = (share: number): number => H - PAD.bottom - (H - PAD.top - PAD.bottom) * share / top
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>`,
    `<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<text x="${W / 2}" y="${H - 28}" text-anchor="middle">round trip (log scale)</text>`,
    `<text x="14" y="${(H - PAD.bottom + PAD.top) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(H - PAD.bottom + PAD.top) / 2})">share of round trips</text>`
  ]
  // Ticks at 1, 2 and 5 times powers of ten inside the range.
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
    for (const m of [1, 2, 5]) {
      const us = m * 10 ** p
      if (us < lo || us > hi) continue
      out.push(`<line x1="${x(us).toFixed(1)}" y1="${H - PAD.bottom}" x2="${x(us).toFixed(1)}" y2="${H - PAD.bottom + 5}" stroke="#333"/>`,
        `<text x="${x(us).toFixed(1)}" y="${H - PAD.bottom + 18}" text-anchor="middle">${label(us)}</text>`)
    }
  }
  series.forEach((s, i) => {
    const pts = (shares[i] as number[]).map((share, b) => {
      const x0 = x(lo * Math.exp(ln * b / buckets))
      const x1 = x(lo * Math.exp(ln * (b + 1) / buckets))
      return `${x0.toFixed(1)},${y(share).toFixed(1)} ${x1.toFixed(1)},${y(share).toFixed(1)}`
    })
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`)
    const sorted = [...s.samplesUs].sort((a, b) => a - b)
    const p50 = quantile(sorted, 0.5)
    const p99 = quantile(sorted, 0.99)
    for (const [name, v, dash] of [['p50', p50, '4 2'], ['p99', p99, '1 3']] as const) {
      out.push(`<line x1="${x(v).toFixed(1)}" y1="${PAD.top}" x2="${x(v).toFixed(1)}" y2="${H - PAD.bottom}" stroke="${s.color}" stroke-dasharray="${dash}"><title>${escape(s.name)} ${name} ${label(v)}</title></line>`)
    }
    out.push(`<text x="${W - PAD.right - 4}" y="${PAD.top + 14 + 16 * i}" text-anchor="end" fill="${s.color}">${escape(s.name)}: p50 ${label(p50)}, p99 ${label(p99)} (n=${s.samplesUs.length})</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

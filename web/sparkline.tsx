// A small line chart on a canvas, with its figures also in text (the canvas is decoration
// for screen readers: the text says the same).
import { useEffect, useRef } from 'preact/hooks'

export interface SparklineProps {
  label: string
  values: readonly number[]
  unit: string
  /** How to print a value. */
  format?: (v: number) => string
}

export function Sparkline ({ label, values, unit, format = (v) => String(Math.round(v)) }: SparklineProps) {
  const ref = useRef<HTMLCanvasElement>(null)
  useEffect(() => {
    const canvas = ref.current
    const ctx = canvas?.getContext('2d')
    if (canvas === null || canvas === undefined || ctx === null || ctx === undefined) return
    const dpr = window.devicePixelRatio > 0 ? window.devicePixelRatio : 1
    canvas.width = Math.round(canvas.clientWidth * dpr)
    canvas.height = Math.round(canvas.clientHeight * dpr)
    ctx.clearRect(0, 0, canvas.width, canvas.height)
    if (values.length < 2) return
    const max = Math.max(1, ...values)
    const step = canvas.width / (values.length - 1)
    const y = (v: number): number => canvas.height - 2 * dpr - (v / max) * (canvas.height - 4 * dpr)
    ctx.beginPath()
    values.forEach((v, i) => { if (i === 0) ctx.moveTo(0, y(v)); else ctx.lineTo(i * step, y(v)) })
    ctx.lineWidth = 1.5 * dpr
    ctx.strokeStyle = '#1d4f91'
    ctx.stroke()
  }, [values])
  const last = values.length > 0 ? values[values.length - 1] as number : null
  const max = values.length > 0 ? Math.max(...values) : null
  return (
    <figure class="spark">
      <figcaption>{label}</figcaption>
      <canvas ref={ref} aria-hidden="true" />
      <p class="spark-figures">
        {last === null ? 'no data yet' : `latest ${format(last)} ${unit} · max ${format(max ?? 0)} ${unit}`}
      </p>
    </figure>
  )
}

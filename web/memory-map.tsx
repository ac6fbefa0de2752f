// The guest-physical memory map of one VM: drawn to scale on a canvas (draw.ts), zoomed
// and panned with buttons, keys, the wheel or a drag, with the extents of the view listed
// as text beside it (the canvas alone says nothing to a screen reader or a test).
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import type { FaultlineClient } from '../src/client/client.js'
import type { VmInfo } from '../src/client/types.js'
import { describeError } from './api.js'
import { bytes, hex, parseAddress } from './format.js'
import { drawMap, drawSwatch } from './map/draw.js'
import type { Fill } from './map/draw.js'
import { GuestMap, clampView, isPrivate, panView, zoomView } from './map/model.js'
import type { View } from './map/model.js'

const TABLE_ROWS = 64
/** Refetches no closer together than this, however fast conversions come. */
const MIN_REFRESH_MS = 300

function Swatch ({ fill, label }: { fill: Fill, label: string }) {
  const ref = useRef<HTMLCanvasElement>(null)
  useEffect(() => { if (ref.current !== null) drawSwatch(ref.current, fill) }, [fill])
  return <li><canvas ref={ref} width={24} height={14} aria-hidden="true" class="swatch" />{label}</li>
}

export interface MemoryMapProps {
  vm: VmInfo
  client: FaultlineClient
  /** Bumped by the page when memory may have changed (a convert decision, a reset). */
  changes: number
}

export function MemoryMap ({ vm, client, changes }: MemoryMapProps) {
  const [map, setMap] = useState<GuestMap | null>(null)
  const [view, setView] = useState<View | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [pointer, setPointer] = useState<string>('')
  const [drawMs, setDrawMs] = useState<number | null>(null)
  const [width, setWidth] = useState(0)
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const canvas = useRef<HTMLCanvasElement>(null)
  const loading = useRef<{ busy: boolean, again: boolean, last: number }>({ busy: false, again: false, last: 0 })
  const drag = useRef<{ x: number, view: View } | null>(null)

  const load = useCallback(async (): Promise<void> => {
    const l = loading.current
    if (l.busy) { l.again = true; return }
    l.busy = true
    try {
      const wait = l.last + MIN_REFRESH_MS - Date.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
      const lo = Math.min(...vm.memslots.map(s => s.gpa))
      const hi = Math.max(...vm.memslots.map(s => s.gpa + s.size))
      const [attributes, backing] = await Promise.all([
        client.memoryAttributes(vm.id, lo, hi - lo),
        client.backing(vm.id, lo, hi - lo)
      ])
      const next = new GuestMap(vm.memslots, attributes, backing)
      setMap(next)
      setView(v => v === null ? { start: next.lo, end: next.hi } : clampView(v, next.lo, next.hi))
      setError(null)
    } catch (e) {
      setError(describeError(e))
    } finally {
      l.busy = false
      l.last = Date.now()
      if (l.again) { l.again = false; void load() }
    }
  }, [vm.id, client])

  useEffect(() => { setMap(null); setView(null) }, [vm.id])
  useEffect(() => { if (vm.memslots.length > 0) void load() }, [load, changes, vm.memslots.length])

  useEffect(() => {
    const c = canvas.current
    if (c === null) return
    const ro = new ResizeObserver(() => setWidth(c.clientWidth))
    ro.observe(c)
    return () => ro.disconnect()
  }, [map !== null])

  useLayoutEffect(() => {
    if (canvas.current === null || map === null || view === null) return
    const t0 = performance.now()
    drawMap(canvas.current, map, view)
    setDrawMs(performance.now() - t0)
  }, [map, view, width])

  // The range fields follow the view, not the data: a refresh must not undo what is being typed.
  useEffect(() => {
    if (view === null) return
    setFrom(hex(view.start))
    setTo(hex(view.end))
  }, [view?.start, view?.end])

  if (vm.memslots.length === 0) return <p>This VM has no memory.</p>
  if (map === null || view === null) return <p role="status">{error ?? 'Loading the memory map…'}</p>

  const lo = map.lo
  const hi = map.hi
  const zoom = (factor: number, at = 0.5): void => setView(v => v === null ? v : zoomView(v, factor, at, lo, hi))
  const pan = (fraction: number): void => setView(v => v === null ? v : panView(v, fraction, lo, hi))
  const whole = (): void => setView({ start: lo, end: hi })
  const show = (start: number, end: number): void => setView(clampView({ start, end }, lo, hi))
  const span = view.end - view.start
  const at = (clientX: number): number => {
    const rect = canvas.current?.getBoundingClientRect()
    return rect === undefined || rect.width === 0 ? 0 : Math.min(1, Math.max(0, (clientX - rect.left) / rect.width))
  }
  const describe = (gpa: number): string => {
    const e = map.extentAt(gpa)
    const slot = map.memslots.find(s => gpa >= s.gpa && gpa < s.gpa + s.size)
    const poisoned = map.poisoned.some(p => gpa >= p.gpa && gpa < p.gpa + p.size)
    return `${hex(gpa)}: ${e === undefined ? 'no memory' : isPrivate(e) ? 'private' : 'shared'}` +
      (slot === undefined ? '' : `, memslot ${slot.slot}${slot.guest_memfd ? ' (guest_memfd)' : ' (no guest_memfd)'}`) +
      (poisoned ? ', poisoned' : '')
  }
  const onKey = (ev: KeyboardEvent): void => {
    const keys: Record<string, () => void> = {
      '+': () => zoom(0.5), '=': () => zoom(0.5), '-': () => zoom(2), _: () => zoom(2),
      ArrowLeft: () => pan(-0.1), ArrowRight: () => pan(0.1), Home: whole
    }
    const fn = keys[ev.key]
    if (fn !== undefined) { ev.preventDefault(); fn() }
  }
  const onRange = (ev: Event): void => {
    ev.preventDefault()
    const start = parseAddress(from)
    const end = parseAddress(to)
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) { setError('Give the range as two addresses, e.g. 0x40000000 and 0x40400000, the second above the first.'); return }
    setError(null)
    show(start, end)
  }
  const listed = map.extentsIn(view.start, view.end, TABLE_ROWS)
  const privateCount = listed.items.filter(isPrivate).length

  return (
    <div class="memory-map">
      <div class="map-tools" role="toolbar" aria-label="Memory map view" onKeyDown={onKey}>
        <button type="button" onClick={() => zoom(0.5)} aria-keyshortcuts="+">Zoom in</button>
        <button type="button" onClick={() => zoom(2)} aria-keyshortcuts="-">Zoom out</button>
        <button type="button" onClick={() => pan(-0.25)} aria-keyshortcuts="ArrowLeft">◀ Lower</button>
        <button type="button" onClick={() => pan(0.25)} aria-keyshortcuts="ArrowRight">Higher ▶</button>
        <button type="button" onClick={whole} aria-keyshortcuts="Home">Whole guest</button>
        <button type="button" onClick={() => { void load() }}>Refresh</button>
      </div>
      <form class="map-range" onSubmit={onRange}>
        <label>From <input class="mono" value={from} onInput={(e) => setFrom(e.currentTarget.value)} spellcheck={false} /></label>
        <label>To <input class="mono" value={to} onInput={(e) => setTo(e.currentTarget.value)} spellcheck={false} /></label>
        <button type="submit">Show range</button>
      </form>
      <canvas
        ref={canvas}
        class="map-canvas"
        role="img"
        tabIndex={0}
        aria-label={`Memory map from ${hex(view.start)} to ${hex(view.end)} (${bytes(span)}): ${listed.total} extents, ${privateCount} of those listed private. Plus and minus zoom, arrows pan, Home shows the whole guest.`}
        data-view-start={hex(view.start)}
        data-view-end={hex(view.end)}
        data-draw-ms={drawMs === null ? '' : drawMs.toFixed(1)}
        onKeyDown={onKey}
        onWheel={(ev) => { ev.preventDefault(); zoom(ev.deltaY < 0 ? 0.8 : 1.25, at(ev.clientX)) }}
        onPointerDown={(ev) => { drag.current = { x: ev.clientX, view }; (ev.currentTarget as HTMLCanvasElement).setPointerCapture(ev.pointerId) }}
        onPointerUp={() => { drag.current = null }}
        onPointerLeave={() => setPointer('')}
        onPointerMove={(ev) => {
          const d = drag.current
          const rect = canvas.current?.getBoundingClientRect()
          if (d !== null && rect !== undefined && rect.width > 0) {
            const shift = -((ev.clientX - d.x) / rect.width) * (d.view.end - d.view.start)
            setView(clampView({ start: d.view.start + shift, end: d.view.end + shift }, lo, hi))
          }
          setPointer(describe(view.start + at(ev.clientX) * span))
        }}
      />
      <div class="map-axis mono" aria-hidden="true">
        <span>{hex(view.start)}</span><span>{hex(view.start + span / 2)}</span><span>{hex(view.end)}</span>
      </div>
      <p class="map-pointer mono">{pointer !== '' ? pointer : `${bytes(span)} shown${drawMs !== null ? `, drawn in ${drawMs.toFixed(1)} ms` : ''}`}</p>
      {error !== null && <p role="alert" class="error">{error}</p>}
      <ul class="legend" aria-label="Legend">
        <Swatch fill="private" label="private (diagonal stripes)" />
        <Swatch fill="shared" label="shared (dots)" />
        <Swatch fill="gmem" label="memslot with guest_memfd (bars)" />
        <Swatch fill="plain" label="memslot without guest_memfd (cross-hatch)" />
        <Swatch fill="poison" label="poisoned page (red bands)" />
      </ul>
      <div class="scroll" tabIndex={0} role="region" aria-label="Extents in view">
        <table class="extents">
          <caption>Extents in view: {listed.total}{listed.total > listed.items.length ? `, first ${listed.items.length} listed` : ''}</caption>
          <thead><tr><th scope="col">Start</th><th scope="col">End</th><th scope="col">Size</th><th scope="col">Attributes</th><th scope="col"><span class="sr-only">Show</span></th></tr></thead>
          <tbody>
            {listed.items.map(e => (
              <tr key={e.gpa} data-gpa={hex(e.gpa)} data-size={hex(e.size)} data-attributes={isPrivate(e) ? 'private' : 'shared'}>
                <td class="mono">{hex(e.gpa)}</td>
                <td class="mono">{hex(e.gpa + e.size)}</td>
                <td>{bytes(e.size)}</td>
                <td><span class={isPrivate(e) ? 'tag private' : 'tag shared'}>{isPrivate(e) ? 'private' : 'shared'}</span></td>
                <td><button type="button" class="link" onClick={() => show(e.gpa, e.gpa + e.size)} aria-label={`Show ${hex(e.gpa)} to ${hex(e.gpa + e.size)}`}>Show</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="slots">Memslots: {map.memslots.map(s => `#${s.slot} ${hex(s.gpa)}–${hex(s.gpa + s.size)} (${bytes(s.size)}, ${s.guest_memfd ? 'guest_memfd' : 'no guest_memfd'})`).join('; ')}
        {map.poisoned.length > 0 ? ` · poisoned: ${map.poisoned.map(p => hex(p.gpa)).slice(0, 8).join(', ')}` : ''}</p>
    </div>
  )
}

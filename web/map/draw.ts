// Paints a GuestMap view into a canvas, one pixel column at a time, straight into an
// ImageData: three lanes (attributes, memslots, poison), each state with its own pattern
// as well as its own colour, so that the map reads without colour too.
import type { Columns, GuestMap, View } from './model.js'

/** RGBA as the little-endian Uint32 an ImageData holds. */
const rgba = (hex: string): number => {
  const v = parseInt(hex.slice(1), 16)
  return (0xff << 24 | (v & 0xff) << 16 | (v >> 8 & 0xff) << 8 | v >> 16) >>> 0
}

const C = {
  empty: rgba('#f3f3f1'),
  privateBase: rgba('#3f2a8c'),
  privateStripe: rgba('#9c86e8'),
  sharedBase: rgba('#c8eee2'),
  sharedDot: rgba('#17604f'),
  gmem: rgba('#23557f'),
  gmemBar: rgba('#6d9cc6'),
  plainBase: rgba('#efd9a4'),
  plainCross: rgba('#7a5a14'),
  poison: rgba('#b3122a'),
  poisonBand: rgba('#ffd1d7')
}

export type Fill = 'private' | 'shared' | 'gmem' | 'plain' | 'poison' | 'empty'

/** The pattern of each fill at a point in CSS pixels: the map and its legend share it. */
export function patternAt (fill: Fill, x: number, y: number): number {
  switch (fill) {
    case 'private': return (x + y) % 6 < 2 ? C.privateStripe : C.privateBase
    case 'shared': return x % 5 < 2 && y % 5 < 2 ? C.sharedDot : C.sharedBase
    case 'gmem': return x % 8 < 1 ? C.gmemBar : C.gmem
    case 'plain': return (x + y) % 6 === 0 || (x - y + 600) % 6 === 0 ? C.plainCross : C.plainBase
    case 'poison': return y % 4 < 2 ? C.poison : C.poisonBand
    case 'empty': return C.empty
  }
}

/** The lanes, in CSS pixels from the top. */
export const LANES = {
  attributes: { top: 0, height: 64 },
  memslots: { top: 70, height: 22 },
  poison: { top: 98, height: 14 }
} as const
export const MAP_HEIGHT = 112

/** Splits a lane at a fraction, giving a non-zero share at least `min` rows so that a lone page still shows. */
function split (fraction: number, rows: number, min: number): number {
  if (fraction <= 0) return 0
  if (fraction >= 1) return rows
  return Math.min(rows - min, Math.max(min, Math.round(fraction * rows)))
}

/** Draws the view; returns the columns it drew (the page exposes a summary for tests and readers). */
export function drawMap (canvas: HTMLCanvasElement, map: GuestMap, view: View): Columns {
  const dpr = window.devicePixelRatio > 0 ? window.devicePixelRatio : 1
  const width = Math.max(1, Math.round(canvas.clientWidth * dpr))
  const height = Math.round(MAP_HEIGHT * dpr)
  if (canvas.width !== width) canvas.width = width
  if (canvas.height !== height) canvas.height = height
  const ctx = canvas.getContext('2d')
  const cols = map.columns(view.start, view.end, width)
  if (ctx === null) return cols
  const img = ctx.createImageData(width, height)
  const px = new Uint32Array(img.data.buffer)
  px.fill(C.empty)
  const lane = (l: { top: number, height: number }): [number, number] => [Math.round(l.top * dpr), Math.round(l.height * dpr)]
  const [aTop, aRows] = lane(LANES.attributes)
  const [mTop, mRows] = lane(LANES.memslots)
  const [pTop, pRows] = lane(LANES.poison)
  const min = Math.max(1, Math.round(2 * dpr))
  const paint = (x: number, y0: number, rows: number, fill: Fill): void => {
    const ux = Math.floor(x / dpr)
    for (let y = y0; y < y0 + rows; y++) px[y * width + x] = patternAt(fill, ux, Math.floor(y / dpr))
  }
  for (let x = 0; x < width; x++) {
    const memory = (cols.gmem[x] as number) + (cols.plain[x] as number)
    if (memory > 0) {
      // Private on top, shared below, in proportion to the bytes of the column.
      const priv = split(cols.private[x] as number, aRows, min)
      paint(x, aTop, priv, 'private')
      paint(x, aTop + priv, aRows - priv, 'shared')
    }
    const gmem = split(cols.gmem[x] as number, mRows, min)
    const plain = Math.min(mRows - gmem, split(cols.plain[x] as number, mRows, min))
    paint(x, mTop, gmem, 'gmem')
    paint(x, mTop + gmem, plain, 'plain')
    if (cols.poisoned[x] === 1) paint(x, pTop, pRows, 'poison')
  }
  ctx.putImageData(img, 0, 0)
  return cols
}

/** Fills a small legend swatch with a fill's pattern. */
export function drawSwatch (canvas: HTMLCanvasElement, fill: Fill): void {
  const ctx = canvas.getContext('2d')
  if (ctx === null) return
  const img = ctx.createImageData(canvas.width, canvas.height)
  const px = new Uint32Array(img.data.buffer)
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) px[y * canvas.width + x] = patternAt(fill, x, y)
  }
  ctx.putImageData(img, 0, 0)
}

// The exits of one VM: those waiting for a decision, with their buttons, and the live log
// of every exit with its decision, each decoded (reason, gpa, size, direction, who decided).
import type { DecisionAction } from '../src/client/types.js'
import type { ExitRow } from './exit-log.js'
import { bytes, decodeExit, hex } from './format.js'

export interface PendingExitsProps {
  rows: readonly ExitRow[]
  /** This page holds the controller role: the buttons work. */
  controller: boolean
  busy: ReadonlySet<number>
  onDecide: (exit: number, action: DecisionAction) => void
}

const dataOf = (row: ExitRow) => {
  const d = decodeExit(row.exit)
  return {
    d,
    attrs: {
      'data-exit': String(row.exit.exit),
      'data-gpa': d.gpa === null ? '' : hex(d.gpa),
      'data-size': d.size === null ? '' : hex(d.size),
      'data-direction': d.direction
    }
  }
}

export function PendingExits ({ rows, controller, busy, onDecide }: PendingExitsProps) {
  if (rows.length === 0) return <p class="muted">No exit is waiting for a decision.</p>
  return (
    <ul class="pending">
      {rows.slice(0, 50).map(row => {
        const { d, attrs } = dataOf(row)
        const n = row.exit.exit
        const off = !controller || busy.has(n)
        return (
          <li key={n} {...attrs}>
            <p>
              <strong>Exit {n}</strong> · vCPU {row.exit.vcpu} · {d.what}
              {d.gpa !== null && <> · <span class="mono">{hex(d.gpa)}</span></>}
              {d.size !== null && <> + {bytes(d.size)}</>}
              {d.direction !== '' && <> · {d.direction}</>}
              {d.detail !== '' && <span class="muted"> · {d.detail}</span>}
            </p>
            <div class="decide" role="group" aria-label={`Decide exit ${n}`}>
              <button type="button" class="convert" disabled={off || !d.convertible} onClick={() => onDecide(n, 'convert')}
                title={d.convertible ? 'Convert the range, then resume' : 'Only memory faults and MAP_GPA_RANGE can be converted'}>Convert</button>
              <button type="button" disabled={off} onClick={() => onDecide(n, 'resume')}>Resume</button>
              <button type="button" class="danger" disabled={off} onClick={() => onDecide(n, 'kill')}>Kill</button>
            </div>
          </li>
        )
      })}
      {rows.length > 50 && <li class="muted">and {rows.length - 50} more</li>}
    </ul>
  )
}

export function ExitsTable ({ rows }: { rows: readonly ExitRow[] }) {
  if (rows.length === 0) return <p class="muted">No exits yet.</p>
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label="Exit log">
      <table class="exits">
        <thead>
          <tr><th scope="col">Exit</th><th scope="col">vCPU</th><th scope="col">Reason</th><th scope="col">GPA</th><th scope="col">Size</th><th scope="col">Direction</th><th scope="col">Decision</th></tr>
        </thead>
        <tbody>
          {rows.map(row => {
            const { d, attrs } = dataOf(row)
            const decision = row.decision === null ? 'pending' : `${row.decision.action} by ${row.decision.by}`
            return (
              <tr key={row.exit.exit} {...attrs} data-decision={decision}>
                <td>{row.exit.exit}</td>
                <td>{row.exit.vcpu}</td>
                <td>{d.what}{d.detail !== '' && <span class="muted"> {d.detail}</span>}</td>
                <td class="mono">{d.gpa === null ? '' : hex(d.gpa)}</td>
                <td>{d.size === null ? '' : bytes(d.size)}</td>
                <td>{d.direction}</td>
                <td>{row.decision === null ? <span class="tag pending">pending</span> : decision}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

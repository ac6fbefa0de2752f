// The signed-in page: one stream for the whole page (every VM's events as an observer of
// "*", plus the open VM's own subscription), the VM list kept live from it, and the VM
// that is open. The list is refetched now and then, so that counters stay exact.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { VmInfo } from '../src/client/types.js'
import { clientFor, describeError, isUnauthorized } from './api.js'
import { CreateVm } from './create-vm.js'
import { LiveStream } from './live.js'
import type { LiveEvent, LiveStatus } from './live.js'
import { VmDetail } from './vm-detail.js'
import { VmList } from './vm-list.js'

const REFRESH_MS = 5000
const BATCH_MS = 50

export interface DashboardProps {
  token: string
  onSignOut: (notice: string | null) => void
}

const vmFromHash = (): string | null => {
  const m = /^#vm=([\w-]+)$/.exec(window.location.hash)
  return m === null ? null : (m[1] ?? null)
}

/** One stream event applied to the list's counters and states. */
function applyEvent (vms: VmInfo[], ev: LiveEvent): VmInfo[] | null {
  if (ev.type === 'revoked') return vms
  const i = vms.findIndex(v => v.id === ev.vm)
  const vm = vms[i]
  if (vm === undefined) return null
  const c = { ...vm.counters }
  let next: VmInfo = vm
  if (ev.type === 'exit') next = { ...vm, counters: { ...c, exits: (c.exits ?? 0) + 1, pending: (c.pending ?? 0) + 1 } }
  if (ev.type === 'decided') next = { ...vm, counters: { ...c, pending: Math.max(0, (c.pending ?? 0) - 1), decisions: (c.decisions ?? 0) + 1 } }
  if (ev.type === 'state') {
    if (ev.state === 'deleted') return vms.filter(v => v.id !== ev.vm)
    next = { ...vm, state: ev.state, ...(ev.reason !== null && ev.reason !== undefined ? { state_reason: ev.reason } : {}) }
  }
  const out = [...vms]
  out[i] = next
  return out
}

export function Dashboard ({ token, onSignOut }: DashboardProps) {
  const client = useMemo(() => clientFor(token), [token])
  const live = useMemo(() => new LiveStream(token, window.location.origin), [token])
  const [vms, setVms] = useState<VmInfo[]>([])
  const [loaded, setLoaded] = useState(false)
  const [selected, setSelected] = useState<string | null>(vmFromHash())
  const [status, setStatus] = useState<LiveStatus>('connecting')
  const [notice, setNotice] = useState('')
  const refreshing = useRef(false)

  const refresh = useCallback(async (): Promise<void> => {
    if (refreshing.current) return
    refreshing.current = true
    try {
      const all: VmInfo[] = []
      for await (const vm of client.allVms({ limit: 500 })) all.push(vm)
      setVms(all)
      setLoaded(true)
    } catch (e) {
      if (isUnauthorized(e)) onSignOut('The server no longer accepts this token. Sign in again.')
      else setNotice(describeError(e))
    } finally { refreshing.current = false }
  }, [client])

  useEffect(() => {
    const offStatus = live.onStatus((s) => {
      setStatus(s)
      if (s === 'open' && !live.has('*')) live.subscribe('*', 'observer').catch((e: unknown) => setNotice(describeError(e)))
      // A socket refused before hello looks like any failed socket: ask REST whether the token still holds.
      if (s === 'closed' && live.failures > 0) void refresh()
    })
    // A busy VM sends thousands of events a second: apply them in batches, one render each.
    let batch: LiveEvent[] = []
    let timer: ReturnType<typeof setTimeout> | undefined
    const flush = (): void => {
      const events = batch
      batch = []
      timer = undefined
      setVms(list => {
        let out = list
        for (const ev of events) {
          const next = applyEvent(out, ev)
          if (next === null) { void refresh(); continue }
          out = next
        }
        return out
      })
    }
    const offEvent = live.onEvent((ev) => {
      batch.push(ev)
      timer ??= setTimeout(flush, BATCH_MS)
    })
    const offError = live.onError((e) => setNotice(describeError(e)))
    live.start()
    void refresh()
    const poll = setInterval(() => { void refresh() }, REFRESH_MS)
    return () => { offStatus(); offEvent(); offError(); clearInterval(poll); clearTimeout(timer); live.close() }
  }, [live, refresh])

  const open = (id: string | null): void => {
    setSelected(id)
    window.history.replaceState(null, '', id === null ? window.location.pathname : `#vm=${id}`)
  }
  const vm = vms.find(v => v.id === selected)

  return (
    <>
      <a class="skip" href="#detail">Skip to the open VM</a>
      <header class="top">
        <h1>faultline</h1>
        <p class={`conn conn-${status}`} role="status" data-status={status}>
          {status === 'open' ? '● live' : status === 'connecting' ? '○ connecting…' : '✕ stream closed, retrying'}
        </p>
        <button type="button" onClick={() => onSignOut(null)}>Sign out</button>
      </header>
      {notice !== '' && <p role="alert" class="error banner">{notice} <button type="button" class="link" onClick={() => setNotice('')}>Dismiss</button></p>}
      <main class="layout">
        <section class="panel list" aria-labelledby="vms-h">
          <h2 id="vms-h">Virtual machines</h2>
          <VmList vms={vms} selected={selected} onOpen={open} />
          <CreateVm client={client} onCreated={(created) => { setVms(list => list.some(v => v.id === created.id) ? list : [...list, created]); open(created.id); void refresh() }} />
        </section>
        <section class="panel detail" id="detail" aria-label="The open VM">
          {vm === undefined
            ? <p class="muted">{selected === null
              ? 'Open a VM from the list, or create one.'
              : loaded ? `There is no VM ${selected} (deleted, or the server restarted).` : 'Loading…'}</p>
            : <VmDetail key={vm.id} vm={vm} client={client} live={live} onChanged={() => { void refresh() }} onDeleted={() => { open(null); void refresh() }} />}
        </section>
      </main>
    </>
  )
}

// One VM: its lifecycle buttons and counters, the role this page takes on its exits
// (observer, or the controller that decides them), the sparklines, the memory map and the
// exits. Exits come from the journal once, then from the stream.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { FaultlineClient } from '../src/client/client.js'
import type { DecisionAction, VmAction, VmInfo } from '../src/client/types.js'
import { describeError } from './api.js'
import { ExitLog } from './exit-log.js'
import { ExitsTable, PendingExits } from './exits-view.js'
import { STATE_SYMBOL, VM_ACTIONS, actionAllowed } from './format.js'
import type { LiveStream } from './live.js'
import { LiveError } from './live.js'
import { MemoryMap } from './memory-map.js'
import { Sparkline } from './sparkline.js'

export interface VmDetailProps {
  vm: VmInfo
  client: FaultlineClient
  live: LiveStream
  /** The list should refetch (after an action). */
  onChanged: () => void
  onDeleted: () => void
}

const COUNTERS: ReadonlyArray<keyof VmInfo['counters']> = ['exits', 'pending', 'decisions', 'by_rule', 'by_timeout', 'accesses', 'hypercall_errors', 'machine_checks', 'interrupts']

export function VmDetail ({ vm, client, live, onChanged, onDeleted }: VmDetailProps) {
  const log = useMemo(() => new ExitLog(), [vm.id])
  const [, setVersion] = useState(0)
  const [role, setRole] = useState<'observer' | 'controller'>('observer')
  const [conflict, setConflict] = useState(false)
  const [message, setMessage] = useState<string>('')
  const [busy, setBusy] = useState<ReadonlySet<number>>(new Set())
  const [memoryChanges, setMemoryChanges] = useState(0)
  const [confirmDelete, setConfirmDelete] = useState(false)
  const [now, setNow] = useState(Date.now())
  const heading = useRef<HTMLHeadingElement>(null)
  const pendingBump = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  // The log is mutable; one render per 50 ms however many events came.
  const bump = (): void => {
    pendingBump.current ??= setTimeout(() => { pendingBump.current = undefined; setVersion(v => v + 1) }, 50)
  }
  useEffect(() => () => clearTimeout(pendingBump.current), [])

  // A new VM: forget the old role, read its journal, move focus to it. After the stream
  // comes back, read the journal again: events of the gap are there (merging is idempotent).
  useEffect(() => {
    setRole('observer'); setConflict(false); setMessage(''); setConfirmDelete(false)
    heading.current?.focus()
    let stale = false
    const readJournal = (): void => {
      const since = Math.max(0, (vm.seq ?? 0) - 1000)
      Promise.all([client.exits(vm.id, { since, limit: 1000 }), client.exits(vm.id, { pending: true, limit: 1000 })])
        .then(([recent, pending]) => { if (!stale) { log.addJournal(recent.items); log.addJournal(pending.items); bump() } })
        .catch((e: unknown) => { if (!stale) setMessage(describeError(e)) })
    }
    readJournal()
    let dropped = false
    const offStatus = live.onStatus((s) => {
      if (s === 'closed') dropped = true
      if (s === 'open' && dropped) { dropped = false; readJournal(); setMemoryChanges(c => c + 1) }
    })
    return () => {
      stale = true
      offStatus()
      // Leaves the VM's own subscription (the page-wide "*" still brings its events).
      live.unsubscribe(vm.id).catch(() => {})
    }
  }, [vm.id])

  useEffect(() => live.onEvent((ev) => {
    if (ev.vm !== vm.id) return
    const t = Date.now()
    switch (ev.type) {
      case 'exit': log.addExit(ev, t); break
      case 'decided':
        log.addDecision(ev.exit, ev.action, ev.by, t)
        if (ev.action === 'convert') setMemoryChanges(c => c + 1)
        break
      case 'state':
        // A reset puts memory back to boot; a kill ends the pending exits (decided events follow).
        setMemoryChanges(c => c + 1)
        break
      case 'revoked':
        setRole('observer')
        setMessage('Another client took the controller role: this page now observes only.')
        break
    }
    bump()
  }), [vm.id, live])

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [])

  const takeControl = async (takeover: boolean): Promise<void> => {
    try {
      await live.subscribe(vm.id, 'controller', takeover)
      setRole('controller'); setConflict(false)
      setMessage('This page is the controller: it decides the pending exits.')
    } catch (e) {
      if (e instanceof LiveError && e.code === 'CONFLICT') { setConflict(true); setMessage('Another client controls this VM. Take over to decide from here.') } else setMessage(describeError(e))
    }
  }
  const observe = async (): Promise<void> => {
    try {
      await live.subscribe(vm.id, 'observer')
      setRole('observer'); setConflict(false); setMessage('This page observes only.')
    } catch (e) { setMessage(describeError(e)) }
  }
  const decide = async (exit: number, action: DecisionAction): Promise<void> => {
    setBusy(b => new Set(b).add(exit))
    try {
      await live.decide(vm.id, exit, action)
      setMessage(`Exit ${exit}: ${action} sent.`)
    } catch (e) {
      setMessage(`Exit ${exit}: ${describeError(e)}`)
    } finally {
      setBusy(b => { const n = new Set(b); n.delete(exit); return n })
    }
  }
  const act = async (action: VmAction): Promise<void> => {
    try {
      await client.action(vm.id, action)
      setMessage(`${action}: done.`)
      if (action === 'reset') setMemoryChanges(c => c + 1)
    } catch (e) { setMessage(`${action}: ${describeError(e)}`) }
    onChanged()
  }
  const remove = async (): Promise<void> => {
    try {
      await client.deleteVm(vm.id)
      onDeleted()
    } catch (e) { setMessage(`delete: ${describeError(e)}`); setConfirmDelete(false) }
  }

  const controller = role === 'controller'
  const name = vm.name ?? vm.id
  return (
    <article class="vm" data-vm={vm.id} data-state={vm.state} data-role={role}>
      <header class="vm-head">
        <h2 id="detail-h" tabIndex={-1} ref={heading}>{name}</h2>
        <p class="vm-meta">
          <span class="mono">{vm.id}</span> · {vm.type} · {vm.vcpus} vCPU{vm.vcpus === 1 ? '' : 's'}
          {vm.preset !== null && vm.preset !== undefined && <> · preset {vm.preset}</>} · <span class={`state state-${vm.state}`} data-testid="vm-state">{STATE_SYMBOL[vm.state]} {vm.state}</span>
          {vm.state_reason !== undefined && vm.state_reason !== '' && <span class="muted"> ({vm.state_reason})</span>}
        </p>
      </header>
      <div class="actions" role="group" aria-label="Lifecycle">
        {VM_ACTIONS.map(a => (
          <button key={a} type="button" class={a === 'kill' ? 'danger' : ''} disabled={!actionAllowed(a, vm.state)} onClick={() => { void act(a) }}>
            {a[0]?.toUpperCase() + a.slice(1)}
          </button>
        ))}
        {confirmDelete
          ? <>
            <button type="button" class="danger" onClick={() => { void remove() }}>Confirm delete</button>
            <button type="button" onClick={() => setConfirmDelete(false)}>Keep it</button>
          </>
          : <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>Delete…</button>}
      </div>
      <p role="status" class="message">{message}</p>
      <dl class="counters">
        {COUNTERS.map(c => (
          <div key={c}><dt>{c.replace(/_/g, ' ')}</dt><dd data-counter={c}>{vm.counters[c].toLocaleString('en')}</dd></div>
        ))}
      </dl>

      <section aria-labelledby="role-h" class="role">
        <h3 id="role-h">Decisions from this page</h3>
        <div role="group" aria-label="Role" class="actions">
          <button type="button" aria-pressed={!controller} onClick={() => { void observe() }}>Observe only</button>
          <button type="button" aria-pressed={controller} onClick={() => { void takeControl(false) }}>Take the controller role</button>
          {conflict && <button type="button" class="danger" onClick={() => { void takeControl(true) }}>Take over</button>}
        </div>
        <p class="muted">{controller
          ? 'Controller: exits wait for your Convert, Resume or Kill (unless a rule or timeout answers first).'
          : 'Observing: you see every exit and decision; the decision buttons work once you take the controller role.'}</p>
      </section>

      <section aria-labelledby="map-h">
        <h3 id="map-h">Guest-physical memory</h3>
        <MemoryMap vm={vm} client={client} changes={memoryChanges} />
      </section>

      <section aria-labelledby="pending-h">
        <h3 id="pending-h">Pending exits</h3>
        <PendingExits rows={log.pending()} controller={controller} busy={busy} onDecide={(n, a) => { void decide(n, a) }} />
      </section>

      <div class="sparks">
        <Sparkline label="Exit rate (last 60 s)" values={log.rates(now)} unit="/s" />
        <Sparkline label="Decision latency (last 60 decisions seen)" values={log.latency()} unit="ms" format={(v) => v < 10 ? v.toFixed(1) : String(Math.round(v))} />
      </div>

      <section aria-labelledby="log-h">
        <h3 id="log-h">Exits and decisions</h3>
        <ExitsTable rows={log.recent(200)} />
      </section>
    </article>
  )
}

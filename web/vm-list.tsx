// Every VM the token sees, with its live state and counters; a name opens the VM.
import type { VmInfo } from '../src/client/types.js'
import { STATE_SYMBOL } from './format.js'

export interface VmListProps {
  vms: readonly VmInfo[]
  selected: string | null
  onOpen: (id: string) => void
}

export function VmList ({ vms, selected, onOpen }: VmListProps) {
  if (vms.length === 0) return <p class="muted">No VMs yet: create one below.</p>
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label="VM list">
      <table class="vms">
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">State</th><th scope="col">Exits</th><th scope="col">Pending</th><th scope="col">Decided</th></tr>
        </thead>
        <tbody>
          {vms.map(vm => (
            <tr key={vm.id} data-vm={vm.id} data-state={vm.state} class={vm.id === selected ? 'selected' : ''}>
              <td>
                <button type="button" class="link" aria-current={vm.id === selected ? 'true' : undefined} onClick={() => onOpen(vm.id)}>
                  {vm.name ?? vm.id}
                </button>
              </td>
              <td>{vm.type}</td>
              <td><span class={`state state-${vm.state}`}>{STATE_SYMBOL[vm.state]} {vm.state}</span></td>
              <td>{(vm.counters.exits ?? 0).toLocaleString('en')}</td>
              <td>{(vm.counters.pending ?? 0).toLocaleString('en')}</td>
              <td>{(vm.counters.decisions ?? 0).toLocaleString('en')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

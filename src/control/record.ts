// A VM as control/ keeps it: plain data (what a store will persist) beside the core's Vm
// and the live bookkeeping (timers, scheduler marks) that a restart rebuilds.
import type { Policy } from '../../schemas/vm.js'
import type { VmState } from '../../schemas/common.js'
import type { Vm, VmConfig } from '../kvm/index.js'
import type { EventJournal } from './journal.js'
import type { JournalCaps } from './journal-budget.js'
import type { ExitEntry, ExitLog } from './exit-log.js'
import type { PendingExit, PendingExits } from './pending.js'

export type { ExitEntry }

export type { PendingExit }

export interface VmRecord {
  id: string
  /** The id as JSON (quoted once: it goes into every event's frame). */
  idJson: string
  tenant: string
  name: string | null
  /** Creation order, for list cursors. */
  ord: number
  state: VmState
  state_reason: string
  config: VmConfig
  policy: Policy
  preset: string | null
  created_at: number
  /** created_at as the API shows it (ISO 8601), made once: every GET of the VM sends it. */
  createdIso: string
  /** The VM's latest event seq (0 = none yet). */
  seq: number
  counters: { exits: number, decisions: number, by_rule: number, by_timeout: number }
  vm: Vm
  /** The share of the journal budget its tenant's VMs keep now (journal-budget.ts). */
  caps: JournalCaps
  journal: EventJournal
  /** Exits by id, oldest first; decided ones beyond the journal limit are dropped. */
  exits: ExitLog
  pending: PendingExits
  /** vCPUs whose program ended, and vCPUs waiting on a pending exit: neither is run. */
  halted: Set<number>
  blocked: Set<number>
  /** Round-robin position among the VM's vCPUs. */
  nextVcpu: number
  /** Driven slice by slice by a trace replay (src/traces/), never by the scheduler. */
  replay?: true
}

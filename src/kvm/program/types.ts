// The guest program format of the contract (docs/spec/api-v1.md "Guest programs"). A program is a JSON
// array of instructions; every vCPU runs the same program. Any op that takes a `gpa` also
// takes `vcpu_stride` (bytes, default 0): vCPU n uses gpa + n * vcpu_stride, which gives each
// vCPU its own addresses.

export type PageSizeName = '4k' | '2m' | '1g'

interface Strided { vcpu_stride?: number }

export interface AccessOp extends Strided {
  op: 'read' | 'write'
  gpa: number
  /** Bytes, default 8; an access that spans pages checks each page in turn. */
  size?: number
  /** SNP: the C-bit. TDX: false sets the shared bit (a gpa may also carry it already). */
  private?: boolean
}

export interface SweepOp extends Strided {
  op: 'sweep'
  gpa: number
  size: number
  stride?: number
  access?: 'read' | 'write'
  private?: boolean
}

export interface MapGpaOp extends Strided {
  op: 'map_gpa'
  gpa: number
  npages: number
  /** The direction: true asks for private (ENCRYPTED), false for shared (DECRYPTED). */
  private: boolean
  page_size?: PageSizeName
  /** SNP only: the page state change protocol. Default "ghcb". */
  protocol?: 'msr' | 'ghcb'
  /**
   * SNP with the ghcb protocol: entries per page state change request. Default 64
   * (VMGEXIT_PSC_MAX_ENTRY, as Linux); KVM accepts up to 253 and refuses a longer request.
   */
  psc_entries?: number
}

export interface OutOp { op: 'out', port: number, size: 1 | 2 | 4, value: number }
export interface InOp { op: 'in', port: number, size: 1 | 2 | 4 }
export interface MmioReadOp extends Strided { op: 'mmio_read', gpa: number, len: number }
export interface MmioWriteOp extends Strided { op: 'mmio_write', gpa: number, len: number, value: number }
export interface SimpleOp { op: 'hlt' | 'shutdown' | 'panic' }

export interface RepeatOp {
  op: 'repeat'
  count?: number
  forever?: boolean
  body: Instruction[]
}

export interface RandomOp extends Strided {
  op: 'random'
  count: number
  gpa: number
  size: number
  /** Probability an access (or a conversion) is private. Default 0.5. */
  private_ratio?: number
  /** Probability an access is a write. Default 0.5. */
  write_ratio?: number
  /** Probability a step is a map_gpa of one page instead of an access. Default 0.1. */
  map_ratio?: number
}

/**
 * Beyond the contract: an access KVM itself makes on the guest's behalf (a paravirtual
 * structure such as steal time). When it would fault, KVM fills memory_fault and then
 * suppresses the exit (docs/spec/kvm-abi.md section 7): the stale memory_fault rides along on the
 * vCPU's next exit, whose exit_reason is something else.
 */
export interface PvAccessOp extends Strided { op: 'pv_access', gpa: number, private?: boolean }

export type Instruction =
  | AccessOp | SweepOp | MapGpaOp | OutOp | InOp | MmioReadOp | MmioWriteOp
  | SimpleOp | RepeatOp | RandomOp | PvAccessOp

export type Program = Instruction[]
export type OpName = Instruction['op']

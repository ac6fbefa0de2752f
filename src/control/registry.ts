// Every VM record, and tenancy: a VM belongs to the tenant that made it, and to any other
// tenant it does not exist (404, never 403). List cursors are opaque to tenants.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { Principal } from '../auth/types.js'
import { FaultlineError } from '../errors.js'
import type { VmRecord } from './record.js'

export class VmRegistry {
  private readonly byId = new Map<string, VmRecord>()
  private ord = 0
  /** Seals list cursors; made per server, so a cursor is good for this process only. */
  private readonly cursorKey = randomBytes(32)

  /** The record, if the principal may see it; VM_NOT_FOUND otherwise. */
  find (principal: Principal, id: string): VmRecord {
    const rec = this.byId.get(id)
    if (rec === undefined || !visible(principal, rec)) throw new FaultlineError('VM_NOT_FOUND', `no VM ${id}`)
    return rec
  }

  exists (principal: Principal, id: string): boolean {
    const rec = this.byId.get(id)
    return rec !== undefined && visible(principal, rec)
  }

  /** Whether this exact record is still registered (a deleted VM's timers check it). */
  holds (rec: VmRecord): boolean {
    return this.byId.get(rec.id) === rec
  }

  /** How many VMs the tenant has, and whether one of them already has `name`. */
  tenantUsage (tenant: string, name: string | undefined): { count: number, nameTaken: boolean } {
    let count = 0
    let nameTaken = false
    for (const r of this.byId.values()) {
      if (r.tenant !== tenant) continue
      count++
      if (name !== undefined && r.name === name) nameTaken = true
    }
    return { count, nameTaken }
  }

  /** A fresh id and creation number for a record about to be added. */
  allocate (): { id: string, ord: number } {
    return { id: 'vm_' + randomBytes(9).toString('base64url'), ord: ++this.ord }
  }

  add (rec: VmRecord): void { this.byId.set(rec.id, rec) }
  /** The last creation number given (the store keeps it so that none is given twice). */
  get lastOrd (): number { return this.ord }
  /** After a restart: creation numbers up to `lastOrd` were given before it. */
  resume (lastOrd: number): void { this.ord = Math.max(this.ord, lastOrd) }
  /** VMs on the server, every tenant's. */
  get size (): number { return this.byId.size }
  remove (rec: VmRecord): void { this.byId.delete(rec.id) }
  values (): IterableIterator<VmRecord> { return this.byId.values() }

  /**
   * A list cursor: the creation number of the last item sent (stable under deletes) and
   * the tenant it was given to, as one AES block. The creation counter is server-wide, so
   * in clear it would tell a tenant how many VMs the others made; sealed it tells nothing.
   */
  cursor (principal: Principal, ord: number): string {
    const block = Buffer.alloc(16)
    block.writeBigUInt64BE(BigInt(ord), 0)
    tenantTag(principal.tenant).copy(block, 8)
    const c = createCipheriv('aes-256-ecb', this.cursorKey, null).setAutoPadding(false)
    return Buffer.concat([c.update(block), c.final()]).toString('base64url')
  }

  /** The creation number a cursor stands for; VALIDATION unless this server gave it to this tenant. */
  cursorOrd (principal: Principal, cursor: string): number {
    const sealed = Buffer.from(cursor, 'base64url')
    if (sealed.length === 16) {
      const d = createDecipheriv('aes-256-ecb', this.cursorKey, null).setAutoPadding(false)
      const block = Buffer.concat([d.update(sealed), d.final()])
      const ord = block.readBigUInt64BE(0)
      if (block.subarray(8).equals(tenantTag(principal.tenant)) && ord <= BigInt(this.ord)) return Number(ord)
    }
    throw new FaultlineError('VALIDATION', 'querystring.cursor is not a cursor this server gave: pass the `next` of the previous page')
  }

  /** The principal's VMs, oldest first, after the creation number `after`. */
  list (principal: Principal, after: number, limit: number): { items: VmRecord[], last: number | null } {
    const items: VmRecord[] = []
    let last: number | null = null
    for (const rec of this.byId.values()) {
      if (rec.ord <= after || !visible(principal, rec)) continue
      if (items.length === limit) { last = items[items.length - 1]?.ord ?? after; break }
      items.push(rec)
    }
    return { items, last }
  }
}

function tenantTag (tenant: string): Buffer {
  return createHash('sha256').update(tenant).digest().subarray(0, 8)
}

export function visible (p: Principal, rec: VmRecord): boolean {
  return p.role === 'admin' || p.tenant === rec.tenant
}

// Who controls each VM on the stream: at most one socket per VM (docs/spec/api-v1.md). Pending exits
// live in control/, not here, so handing the role over or dropping it loses nothing.

export type Claim<S> =
  | { ok: true, revoked?: S }
  | { ok: false }

export class ControllerRegistry<S> {
  private readonly byVm = new Map<string, S>()

  holder (vm: string): S | undefined {
    return this.byVm.get(vm)
  }

  /**
   * Makes `s` the VM's controller. Refused when another holds it, unless `takeover`: then
   * the previous holder is returned so that the caller can tell it (`revoked`).
   */
  claim (vm: string, s: S, takeover: boolean): Claim<S> {
    const cur = this.byVm.get(vm)
    if (cur === undefined || cur === s) { this.byVm.set(vm, s); return { ok: true } }
    if (!takeover) return { ok: false }
    this.byVm.set(vm, s)
    return { ok: true, revoked: cur }
  }

  /** Drops the role if `s` holds it; a revoked holder releasing late changes nothing. */
  release (vm: string, s: S): void {
    if (this.byVm.get(vm) === s) this.byVm.delete(vm)
  }

  get size (): number { return this.byVm.size }
}

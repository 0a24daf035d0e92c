/** What every grant-table operation shares: the tables by domid and the hypervisor services they touch. */
import type { Logger } from '../api/log.js';
import type { HypervisorContext } from '../host/subsystem.js';
import type { GrantTable } from './table.js';

/** The subsystem's state. `tables[domid]` exists from the domain's `created` event until `dying`. */
export interface GnttabState {
  readonly ctx: HypervisorContext;
  readonly log: Logger;
  readonly tables: (GrantTable | undefined)[];
  /** Cost-model cycles per byte copied. */
  readonly copyPerByte: number;
}

/** The calling domain, as an operation needs it. */
export interface GnttabCaller {
  readonly domid: number;
  readonly vcpuId: number;
  readonly privileged: boolean;
}

/** Drops a PV domain's cached translations after a PTE changed: of `va` when known, else all. */
export function flushTlbs(s: GnttabState, domid: number, va: number): void {
  const vcpus = s.ctx.domains.get(domid)?.vcpus.length ?? 0;
  for (let v = 0; v < vcpus; v++) {
    const mmu = s.ctx.guestAccessOf(domid, v)?.mmu;
    if (mmu === undefined) continue;
    if (va >= 0) mmu.invlpg(va);
    else mmu.flushTlb();
  }
}

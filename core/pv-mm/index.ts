/**
 * The PV MMU subsystem: registers mmu_update, update_va_mapping and mmuext_op, keeps page types and
 * the M2P, drops a dying domain's state, and exposes {@link PvMmImpl} under the `PvMm` token.
 */
import { PvMm } from '../api/pv-mm.js';
import type { Domain } from '../api/domain.js';
import type { DomId } from '../public/types.js';
import type { SubsystemFactory } from '../host/subsystem.js';
import { PvMmImpl } from './pv-mm.js';
import { doMmuUpdate, doUpdateVaMapping } from './mmu-update.js';
import { doMmuextOp } from './mmuext-op.js';

export { PvMmImpl } from './pv-mm.js';
export { PageTypes, entryMfn } from './page-types.js';
export { TRAP_CODE } from './emulate.js';

/** Makes the PV MMU subsystem (Xen's PV half of arch/x86/mm.c and pv/emul-priv-op.c). */
export const createPvMm: SubsystemFactory = (ctx) => {
  const mm = new PvMmImpl(ctx);
  const unregister = [
    ctx.hypercalls.register('mmu_update', (caller, args) => doMmuUpdate(mm, caller, args)),
    ctx.hypercalls.register('update_va_mapping', (caller, args) => doUpdateVaMapping(mm, caller, args)),
    ctx.hypercalls.register('mmuext_op', (caller, args) => doMmuextOp(mm, caller, args)),
  ];
  const onDying = (d: Domain): void => mm.dropDomain(d.domid);
  // Its frames are freed by now: what was dropped at `dying` is all there was.
  const onDestroyed = (domid: DomId): void => mm.forget(domid);
  ctx.domains.events.on('dying', onDying);
  ctx.domains.events.on('destroyed', onDestroyed);
  ctx.container.registerInstance(PvMm, mm);
  return {
    name: 'pv-mm',
    dump: () => mm.dump(),
    dispose() {
      for (const u of unregister) u();
      ctx.domains.events.off('dying', onDying);
      ctx.domains.events.off('destroyed', onDestroyed);
    },
  };
};

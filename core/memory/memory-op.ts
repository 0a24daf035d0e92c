/** memory_op (hypercall 12): reservations, the physmap and the E820 maps, as Xen's common/memory.c and arch/x86/mm.c. */
import type { InjectionToken } from 'tsyringe';
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import { GuestError } from '../api/errors.js';
import type { DomId, GuestFrame, MachineFrame } from '../public/types.js';
import type { SubsystemFactory } from '../host/subsystem.js';
import { MEMOP_CMD_MASK, MEMOP_EXTENT_SHIFT, XENMEM } from '../public/memory-op.js';
import { highestMappedGfn, type E820Region, type MemoryOpDomainState, type MemoryOpEnv } from './memory-op-common.js';
import { doReservationOp, doReservationQuery } from './memory-op-reservation.js';
import { doAddToPhysmap, doRemoveFromPhysmap } from './memory-op-physmap.js';
import { doMachineMemoryMap, doMemoryMap, doSetMemoryMap, domainMemoryMap } from './memory-op-map.js';

export type { E820Region } from './memory-op-common.js';
export { DOMU_MAX_ORDER, CTLDOM_MAX_ORDER } from './memory-op-reservation.js';

/** memory_op's in-core API, for the toolstack and the domain builder. */
export interface MemoryOps {
  /** The domain's E820 as XENMEM_memory_map returns it (the set map, else one RAM entry over tot_pages). */
  memoryMap(domid: number): readonly E820Region[];
  /** XENMEM_set_memory_map without a hypercall; an empty list restores the default. Throws ESRCH for an unknown domain. */
  setMemoryMap(domid: number, entries: readonly E820Region[]): void;
  /** XENMEM_maximum_gpfn: the highest mapped guest frame, or −1 when none. */
  maximumGpfn(domid: number): number;
  /** The gfn a special frame (shared info, a grant frame) is mapped at by add_to_physmap, if it is (Xen's M2P lookup for xenheap pages). */
  specialFrameGfn(domid: number, mfn: MachineFrame): GuestFrame | undefined;
}
export const MemoryOps = Symbol.for('xenoserver:MemoryOps') as InjectionToken<MemoryOps>;

/**
 * Makes the memory_op subsystem. Divergences from Xen 4.17, on purpose: a reservation op refused before
 * any extent (bad domain, no permission, order above the maximum, too many extents, bad address_bits)
 * returns −errno where Xen returns the start extent (0); XENMEM_memory_map without a set map returns a
 * default map where Xen returns −ENOSYS; populate_physmap refuses a GFN that is already mapped;
 * populate-on-demand is not modelled (nothing is done). Never preempts, so never makes a continuation,
 * but honours one's start extent in `cmd`.
 */
export const createMemoryOps: SubsystemFactory = (ctx) => {
  const states = new Map<number, MemoryOpDomainState>();
  const env: MemoryOpEnv = {
    ctx,
    state(domid) {
      let s = states.get(domid);
      if (s === undefined) {
        s = { e820: undefined, special: new Map() };
        states.set(domid, s);
      }
      return s;
    },
  };

  // --- dispatch -----------------------------------------------------------------------------------

  function doMemoryOp(caller: HypercallContext, args: HypercallArgs): number {
    const cmd = args[0] ?? 0;
    const addr = args[1] ?? 0;
    const op = cmd & MEMOP_CMD_MASK;
    const start = Math.floor(cmd / 2 ** MEMOP_EXTENT_SHIFT);
    switch (op) {
      case XENMEM.increase_reservation:
      case XENMEM.decrease_reservation:
      case XENMEM.populate_physmap:
        return doReservationOp(env, caller, op, start, addr);
      case XENMEM.maximum_ram_page:
        if (start !== 0) throw new GuestError('EINVAL', 'maximum_ram_page takes no continuation', { domid: caller.domid });
        return ctx.memory.totalFrames;
      case XENMEM.current_reservation:
      case XENMEM.maximum_reservation:
      case XENMEM.maximum_gpfn:
        return doReservationQuery(env, caller, op, start, addr);
      case XENMEM.add_to_physmap:
        return doAddToPhysmap(env, caller, start, addr);
      case XENMEM.remove_from_physmap:
        return doRemoveFromPhysmap(env, caller, start, addr);
      case XENMEM.memory_map:
        return doMemoryMap(env, caller, addr);
      case XENMEM.set_memory_map:
        return doSetMemoryMap(env, caller, addr);
      case XENMEM.machine_memory_map:
        return doMachineMemoryMap(env, caller, addr);
      default:
        throw new GuestError('ENOSYS', `memory_op: sub-op ${op} is not implemented`, { domid: caller.domid });
    }
  }

  // --- in-core API --------------------------------------------------------------------------------

  const api: MemoryOps = {
    memoryMap: (domid) => domainMemoryMap(env, ctx.domains.lookup(domid)),
    setMemoryMap(domid, entries) {
      ctx.domains.lookup(domid);
      env.state(domid).e820 = entries.length > 0 ? [...entries] : undefined;
    },
    maximumGpfn(domid) {
      const p2m = ctx.p2mOf(domid);
      if (p2m === undefined) throw new GuestError('ESRCH', `no domain ${domid}`, { domid });
      return highestMappedGfn(env, p2m);
    },
    specialFrameGfn: (domid, mfn) => states.get(domid)?.special.get(mfn),
  };

  // --- domain init / destroy ----------------------------------------------------------------------

  const onDestroyed = (domid: DomId): void => {
    states.delete(domid);
  };
  ctx.domains.events.on('destroyed', onDestroyed);
  const unregister = ctx.hypercalls.register('memory_op', doMemoryOp);
  ctx.container.registerInstance(MemoryOps, api);

  // --- debug dump ---------------------------------------------------------------------------------

  function dump(): string {
    const lines = [`memory_op: host ${ctx.memory.freeFrames}/${ctx.memory.totalFrames} frames free`];
    for (const d of ctx.domains.list()) {
      const s = states.get(d.domid);
      const special = s === undefined ? '' : [...s.special].map(([mfn, gfn]) => ` mfn 0x${mfn.toString(16)}@gfn 0x${gfn.toString(16)}`).join('');
      const e820 = s?.e820 === undefined ? 'default e820' : `e820 ${s.e820.length} entries`;
      lines.push(`  dom${d.domid}: tot ${d.totPages} max ${d.maxPages}, ${e820}${special ? `, special:${special}` : ''}`);
    }
    return lines.join('\n');
  }

  return {
    name: 'memory-op',
    dump,
    dispose() {
      unregister();
      ctx.domains.events.off('destroyed', onDestroyed);
      states.clear();
    },
  };
};

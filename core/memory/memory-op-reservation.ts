/** memory_op's reservation sub-ops (Xen's common/memory.c): increase/decrease_reservation, populate_physmap and the reservation queries. */
import type { Domain } from '../api/domain.js';
import type { HypercallContext } from '../api/hypercall.js';
import { P2mType } from '../api/memory.js';
import { GuestError } from '../api/errors.js';
import type { EptP2m } from './p2m.js';
import { MEMOP_EXTENT_SHIFT, XENMEM, XENMEMF, XenMemoryReservation } from '../public/memory-op.js';
import { PAGE_SHIFT } from '../public/memory.js';
import { guestFrame, machineFrame } from '../public/types.js';
import { INVALID_M2P_ENTRY } from '../public/pv-mm.js';
import { GFN_LIMIT, frameNumber, guestRemovePage, highestMappedGfn, isTranslated, p2mOf, pvMmOf, targetDomain, type MemoryOpEnv } from './memory-op-common.js';

/** The largest extent order a domU may ask for (Xen's CONFIG_DOMU_MAX_ORDER) and a privileged domain (CONFIG_CTLDOM_MAX_ORDER). */
export const DOMU_MAX_ORDER = 9;
export const CTLDOM_MAX_ORDER = 18;
/** More extents than a continuation could encode in `cmd` (UINT_MAX >> MEMOP_EXTENT_SHIFT). */
const MAX_NR_EXTENTS = 0xffffffff >>> MEMOP_EXTENT_SHIFT;
const XEN_PFN_SIZE = 8;

/** A decoded `xen_memory_reservation` (Xen's struct memop_args). */
interface MemopArgs {
  readonly d: Domain;
  readonly p2m: EptP2m;
  readonly extentList: number;
  readonly nrExtents: number;
  readonly order: number;
  readonly memFlags: number;
  readonly start: number;
}

// --- helpers --------------------------------------------------------------------------------------

function maxOrder(caller: HypercallContext): number {
  return caller.privileged ? CTLDOM_MAX_ORDER : DOMU_MAX_ORDER;
}

/**
 * Reads and checks the reservation at `addr`. Xen returns the start extent (0) for every refusal here;
 * we return −errno instead, so a caller can tell "refused" from "nothing done" (see the subsystem's TSDoc).
 * `undefined` when there is nothing to do (start ≥ nr_extents).
 */
function decodeReservation(env: MemoryOpEnv, caller: HypercallContext, addr: number, start: number, name: string): MemopArgs | undefined {
  const raw = caller.guest.read(addr, XenMemoryReservation.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const where = { domid: caller.domid };
  const nrExtentsBig = view.getBigUint64(XenMemoryReservation.nrExtents, true);
  if (nrExtentsBig > BigInt(MAX_NR_EXTENTS)) throw new GuestError('EINVAL', `${name}: ${nrExtentsBig} extents is more than ${MAX_NR_EXTENTS}`, where);
  const nrExtents = Number(nrExtentsBig);
  if (start >= nrExtents) return undefined;
  const order = view.getUint32(XenMemoryReservation.extentOrder, true);
  const memFlags = view.getUint32(XenMemoryReservation.memFlags, true);
  const addressBits = memFlags & XENMEMF.address_bits_mask;
  if (addressBits !== 0 && addressBits <= PAGE_SHIFT) throw new GuestError('EINVAL', `${name}: address_bits ${addressBits} leaves no page`, where);
  const d = targetDomain(env, caller, view.getUint16(XenMemoryReservation.domid, true), name);
  if (order > maxOrder(caller)) throw new GuestError('EINVAL', `${name}: extent order ${order} is above the maximum ${maxOrder(caller)}`, where);
  return { d, p2m: p2mOf(env, d), extentList: Number(view.getBigInt64(XenMemoryReservation.extentStart, true)), nrExtents, order, memFlags, start };
}

/** Runs `step(i)` for each extent from `a.start` until one fails with a GuestError; returns how many are done (Xen's nr_done). */
function eachExtent(a: MemopArgs, step: (i: number) => void): number {
  let i = a.start;
  try {
    for (; i < a.nrExtents; i++) step(i);
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
  }
  return i;
}

// --- operations -----------------------------------------------------------------------------------

/** XENMEM_increase_reservation: allocates extents; a non-translated (PV) domain learns each extent's first MFN. */
function increaseReservation(caller: HypercallContext, a: MemopArgs): number {
  const pages = 2 ** a.order;
  const report = !isTranslated(a.d) && a.extentList !== 0;
  return eachExtent(a, (i) => {
    const frames = a.d.allocatePages(pages);
    if (report) caller.guest.writeU64(a.extentList + i * XEN_PFN_SIZE, frames[0]!);
  });
}

/**
 * XENMEM_populate_physmap: backs each extent's GFNs with fresh zeroed frames. An extent fails (and the
 * call stops there) when its GFN is out of range or misaligned, any of its GFNs is already mapped, or
 * the domain is at max_pages or the host is out of memory. PV callers also get the first MFN back.
 */
function populatePhysmap(env: MemoryOpEnv, caller: HypercallContext, a: MemopArgs): number {
  // Populate-on-demand is not modelled; Xen also refuses it on oneself without doing anything.
  if ((a.memFlags & XENMEMF.populate_on_demand) !== 0) return a.start;
  const pages = 2 ** a.order;
  const where = { domid: a.d.domid };
  return eachExtent(a, (i) => {
    const gpfn = frameNumber(caller.guest.readU64Big(a.extentList + i * XEN_PFN_SIZE));
    if (gpfn < 0 || gpfn + pages > GFN_LIMIT || gpfn % pages !== 0) throw new GuestError('EINVAL', `populate_physmap: gpfn ${gpfn} is not a valid order-${a.order} extent`, where);
    for (let j = 0; j < pages; j++) {
      if (a.p2m.lookup(guestFrame(gpfn + j)) !== undefined) throw new GuestError('EBUSY', `populate_physmap: gfn 0x${(gpfn + j).toString(16)} is already mapped`, where);
    }
    const frames = a.d.allocatePages(pages);
    frames.forEach((mfn, j) => a.p2m.set(guestFrame(gpfn + j), mfn, P2mType.ram_rw));
    if (!isTranslated(a.d)) {
      // As Xen's populate_physmap for PV: the M2P learns each frame's pfn, the guest the first MFN.
      const pvMm = pvMmOf(env);
      frames.forEach((mfn, j) => pvMm?.setM2p(a.d.domid, mfn, gpfn + j));
      caller.guest.writeU64(a.extentList + i * XEN_PFN_SIZE, frames[0]!);
    }
  });
}

/**
 * XENMEM_decrease_reservation: unmaps each extent's frames and returns them to the host; stops at the
 * first it cannot free. The extents name GFNs for a translated domain and machine frames for PV (a PV
 * guest deals in MFNs, through its own P2M list), as Xen's guest_remove_page takes them.
 */
function decreaseReservation(env: MemoryOpEnv, caller: HypercallContext, a: MemopArgs): number {
  const pages = 2 ** a.order;
  const pv = !isTranslated(a.d);
  return eachExtent(a, (i) => {
    const gmfn = frameNumber(caller.guest.readU64Big(a.extentList + i * XEN_PFN_SIZE));
    for (let j = 0; j < pages; j++) {
      const frame = gmfn < 0 ? -1 : gmfn + j;
      if (pv) pvRemoveFrame(env, a.d, a.p2m, frame);
      else guestRemovePage(env, a.d, a.p2m, frame);
    }
  });
}

/**
 * A PV domain gives machine frame `mfn` back: it must own it. Found under its pseudo-physical frame
 * (the M2P, confirmed by the P2M; a P2M search when the guest's M2P entry says otherwise), it goes as
 * a GFN would; a frame it owns outside its P2M (one increase_reservation gave it) is freed unless a page
 * table still maps it.
 */
function pvRemoveFrame(env: MemoryOpEnv, d: Domain, p2m: EptP2m, mfn: number): void {
  const where = { domid: d.domid };
  const memory = env.ctx.memory;
  if (!(mfn >= 0 && mfn < memory.totalFrames) || memory.ownerOf(machineFrame(mfn)) !== d.domid) {
    throw new GuestError('EINVAL', `dom${d.domid} has no page at mfn 0x${mfn.toString(16)}`, where);
  }
  const pvMm = pvMmOf(env);
  const pfn = pfnOf(p2m, mfn, pvMm?.m2p(machineFrame(mfn)) ?? INVALID_M2P_ENTRY);
  if (pfn >= 0) {
    guestRemovePage(env, d, p2m, pfn);
  } else {
    if (pvMm?.inUse(machineFrame(mfn)) === true) throw new GuestError('EBUSY', `dom${d.domid}: mfn 0x${mfn.toString(16)} is still mapped by a page table or used as one`, where);
    if (env.state(d.domid).special.has(machineFrame(mfn)) || env.ctx.sharedInfoOf(d.domid)?.mfn === mfn) {
      throw new GuestError('EINVAL', `dom${d.domid}: mfn 0x${mfn.toString(16)} is not a page it may give back`, where);
    }
    d.freePage(machineFrame(mfn));
  }
  if (memory.ownerOf(machineFrame(mfn)) !== d.domid && pvMm !== undefined) pvMm.clearM2p(machineFrame(mfn));
}

/** The pfn the P2M maps to `mfn`: the M2P's `hint` when it holds, else a search (−1: none). */
function pfnOf(p2m: EptP2m, mfn: number, hint: number): number {
  if (hint >= 0 && hint < GFN_LIMIT && p2m.mfnOf(guestFrame(hint)) === mfn) return hint;
  for (const [gfn, frame] of p2m.entries()) if (frame === mfn) return gfn;
  return -1;
}

// --- dispatch -------------------------------------------------------------------------------------

/** increase_reservation, decrease_reservation, populate_physmap: returns the number of extents done. */
export function doReservationOp(env: MemoryOpEnv, caller: HypercallContext, op: number, start: number, addr: number): number {
  const name = op === XENMEM.increase_reservation ? 'increase_reservation' : op === XENMEM.decrease_reservation ? 'decrease_reservation' : 'populate_physmap';
  const a = decodeReservation(env, caller, addr, start, name);
  if (a === undefined) return start;
  if (op === XENMEM.increase_reservation) return increaseReservation(caller, a);
  if (op === XENMEM.decrease_reservation) return decreaseReservation(env, caller, a);
  return populatePhysmap(env, caller, a);
}

/** current_reservation (tot_pages), maximum_reservation (max_pages), maximum_gpfn; the argument is a domid_t. */
export function doReservationQuery(env: MemoryOpEnv, caller: HypercallContext, op: number, start: number, addr: number): number {
  if (start !== 0) throw new GuestError('EINVAL', `memory_op ${op}: takes no continuation`, { domid: caller.domid });
  const d = targetDomain(env, caller, caller.guest.readU16(addr), 'memory_op');
  if (op === XENMEM.current_reservation) return d.totPages;
  if (op === XENMEM.maximum_reservation) return d.maxPages;
  return Math.max(0, highestMappedGfn(env, p2mOf(env, d)));
}

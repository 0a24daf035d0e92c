/** memory_op's physmap sub-ops (Xen's xenmem_add_to_physmap_one in arch/x86/mm.c): add_to_physmap and remove_from_physmap. */
import type { Domain } from '../api/domain.js';
import type { HypercallContext } from '../api/hypercall.js';
import { P2mType } from '../api/memory.js';
import { GuestError } from '../api/errors.js';
import { GrantTables } from '../api/grant-table.js';
import type { EptP2m } from './p2m.js';
import { XENMAPSPACE, XenAddToPhysmap, XenRemoveFromPhysmap } from '../public/memory-op.js';
import { guestFrame, type GuestFrame, type MachineFrame } from '../public/types.js';
import { GFN_LIMIT, frameNumber, guestRemovePage, isRamType, isSpecialFrame, isTranslated, p2mOf, targetDomain, type MemoryOpEnv } from './memory-op-common.js';

// --- helpers --------------------------------------------------------------------------------------

/** The grant-table API, resolved at call time (its subsystem may come later or be absent). */
function grantTables(env: MemoryOpEnv): GrantTables | undefined {
  const c = env.ctx.container;
  return c.isRegistered(GrantTables, true) ? c.resolve(GrantTables) : undefined;
}

/** The frame `idx` names in `space`, and the gfn it is mapped at now (for gmfn, `idx` itself). */
function sourceFrame(env: MemoryOpEnv, d: Domain, p2m: EptP2m, space: number, idx: bigint, gpfn: number): { mfn: MachineFrame; special: boolean; from: number } {
  const where = { domid: d.domid };
  const state = env.state(d.domid);
  switch (space) {
    case XENMAPSPACE.shared_info: {
      const shared = env.ctx.sharedInfoOf(d.domid);
      if (idx !== 0n || shared === undefined) throw new GuestError('EINVAL', `add_to_physmap: shared_info has only index 0, not ${idx}`, where);
      return { mfn: shared.mfn, special: true, from: state.special.get(shared.mfn) ?? -1 };
    }
    case XENMAPSPACE.grant_table: {
      const gt = grantTables(env);
      if (gt === undefined) throw new GuestError('ENOSYS', 'add_to_physmap: grant tables are not available', where);
      const mfn = gt.frameForPhysmap(d.domid, frameNumber(idx), guestFrame(gpfn));
      return { mfn, special: true, from: state.special.get(mfn) ?? -1 };
    }
    case XENMAPSPACE.gmfn:
    case XENMAPSPACE.gmfn_range: {
      const gfn = frameNumber(idx);
      const entry = gfn >= 0 && gfn < GFN_LIMIT ? p2m.lookup(guestFrame(gfn)) : undefined;
      if (entry === undefined || !isRamType(entry.type) || env.ctx.memory.ownerOf(entry.mfn) !== d.domid) {
        throw new GuestError('EINVAL', `add_to_physmap: gfn ${idx} is not a page of dom${d.domid}`, where);
      }
      return { mfn: entry.mfn, special: isSpecialFrame(env, d, entry.mfn), from: gfn };
    }
    default:
      throw new GuestError('EINVAL', `add_to_physmap: space ${space} is not supported on x86`, where);
  }
}

// --- operations -----------------------------------------------------------------------------------

/**
 * One page of add_to_physmap: the frame appears at `gpfn`. What was at `gpfn` goes first — a special
 * page is unhooked, ordinary RAM freed back to the host — and the frame leaves its old gfn.
 */
function addToPhysmapOne(env: MemoryOpEnv, d: Domain, p2m: EptP2m, space: number, idx: bigint, gpfnBig: bigint): void {
  const gpfn = frameNumber(gpfnBig);
  if (gpfn < 0 || gpfn >= GFN_LIMIT) throw new GuestError('EINVAL', `add_to_physmap: gpfn ${gpfnBig} is beyond the guest-physical space`, { domid: d.domid });
  const { mfn, special, from } = sourceFrame(env, d, p2m, space, idx, gpfn);
  if (from === gpfn && p2m.mfnOf(guestFrame(gpfn)) === mfn) return;
  const prev = p2m.lookup(guestFrame(gpfn));
  if (prev !== undefined && prev.mfn !== mfn) {
    if (isSpecialFrame(env, d, prev.mfn)) {
      p2m.clear(guestFrame(gpfn));
      env.state(d.domid).special.delete(prev.mfn);
    } else {
      guestRemovePage(env, d, p2m, gpfn);
    }
  }
  if (from >= 0 && from !== gpfn && p2m.mfnOf(guestFrame(from)) === mfn) p2m.clear(guestFrame(from));
  // A frame the domain owns is mapped as RAM; a grant frame held by Xen gets a non-RAM read/write type.
  p2m.set(guestFrame(gpfn), mfn, env.ctx.memory.ownerOf(mfn) === d.domid ? P2mType.ram_rw : P2mType.grant_map_rw);
  if (special) env.state(d.domid).special.set(mfn, gpfn as GuestFrame);
}

/** XENMEM_add_to_physmap (translated domains only). gmfn_range maps `size` pages from `idx`, starting at the continuation's `start`. */
export function doAddToPhysmap(env: MemoryOpEnv, caller: HypercallContext, start: number, addr: number): number {
  const where = { domid: caller.domid };
  if (start > 0xffff) throw new GuestError('EDOM', `add_to_physmap: continuation ${start} is not a u16`, where);
  const raw = caller.guest.read(addr, XenAddToPhysmap.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const space = view.getUint32(XenAddToPhysmap.space, true);
  if (space === XENMAPSPACE.gmfn_foreign) throw new GuestError('ENOSYS', 'add_to_physmap: gmfn_foreign needs add_to_physmap_batch', where);
  const d = targetDomain(env, caller, view.getUint16(XenAddToPhysmap.domid, true), 'add_to_physmap');
  if (space === XENMAPSPACE.dev_mmio && !(caller.privileged && d.domid === caller.domid)) throw new GuestError('EACCES', 'add_to_physmap: dev_mmio is for the hardware domain itself', where);
  if (!isTranslated(d)) throw new GuestError('EACCES', `add_to_physmap: dom${d.domid} is PV (not auto-translated)`, where);
  const p2m = p2mOf(env, d);
  const idx = view.getBigUint64(XenAddToPhysmap.idx, true);
  const gpfn = view.getBigUint64(XenAddToPhysmap.gpfn, true);
  if (space !== XENMAPSPACE.gmfn_range) {
    addToPhysmapOne(env, d, p2m, space, idx, gpfn);
    return 0;
  }
  const size = view.getUint16(XenAddToPhysmap.rangeSize, true);
  if (size < start) throw new GuestError('EILSEQ', `add_to_physmap: continuation ${start} is past size ${size}`, where);
  for (let i = BigInt(start); i < BigInt(size); i++) addToPhysmapOne(env, d, p2m, space, idx + i, gpfn + i);
  return 0;
}

/**
 * XENMEM_remove_from_physmap: unmaps the page at `gpfn` without freeing it (it stays the domain's, as
 * in Xen). −ENOENT unless the entry is the domain's own page. A PV domain's physmap is its own business:
 * the call succeeds and changes nothing.
 */
export function doRemoveFromPhysmap(env: MemoryOpEnv, caller: HypercallContext, start: number, addr: number): number {
  const where = { domid: caller.domid };
  if (start !== 0) throw new GuestError('EINVAL', 'remove_from_physmap: takes no continuation', where);
  const raw = caller.guest.read(addr, XenRemoveFromPhysmap.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const d = targetDomain(env, caller, view.getUint16(XenRemoveFromPhysmap.domid, true), 'remove_from_physmap');
  const p2m = p2mOf(env, d);
  const gpfn = frameNumber(view.getBigUint64(XenRemoveFromPhysmap.gpfn, true));
  const entry = gpfn >= 0 && gpfn < GFN_LIMIT ? p2m.lookup(guestFrame(gpfn)) : undefined;
  const special = env.state(d.domid).special;
  const own = entry !== undefined && ((isRamType(entry.type) && env.ctx.memory.ownerOf(entry.mfn) === d.domid) || special.get(entry.mfn) === gpfn);
  if (!own) throw new GuestError('ENOENT', `remove_from_physmap: dom${d.domid} has no page of its own at gpfn ${gpfn}`, where);
  if (!isTranslated(d)) return 0;
  p2m.clear(guestFrame(gpfn));
  special.delete(entry.mfn);
  return 0;
}

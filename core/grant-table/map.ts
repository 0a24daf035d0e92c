/** GNTTABOP_map_grant_ref / unmap_grant_ref, and tearing mappings down when a mapper or a granter dies. */
import { GNTMAP, GNTST } from '../public/grant-table.js';
import { PAGE_SIZE } from '../public/memory.js';
import { X86_CR0_PG, X86_EFER_NXE } from '../public/paging.js';
import { foldCanonical } from '../mmu/address.js';
import { clearPte, createP2mMapping, createPteMapping, p2mMapsGrant, pteMapsFrame, restoreP2mEntry, restorePte } from './host-mapping.js';
import { flushTlbs, type GnttabCaller, type GnttabState } from './state.js';
import type { GrantTable } from './table.js';

/** The kinds of mapping a maptrack slot can hold. */
const KINDS = GNTMAP.host_map | GNTMAP.device_map;
/** Flags kept in a maptrack slot. */
const KEPT = KINDS | GNTMAP.readonly | GNTMAP.application_map | GNTMAP.contains_pte;

/** OUT fields of a successful map. Reused across calls: no allocation per op. */
export interface MapResult {
  handle: number;
  devBusAddr: number;
}

// --- helpers -------------------------------------------------------------------------------------

/** Where a PV host mapping's PTE change must be invalidated: the virtual address, or −1 (flush all). */
function flushAddress(flags: number, hostAddr: number): number {
  return (flags & GNTMAP.contains_pte) !== 0 ? -1 : foldCanonical(hostAddr);
}

/** Undoes the host mapping of slot `h` of `mapper` (whose P2M/PTE still holds it, else leaves it alone). */
function removeHostMapping(s: GnttabState, mapper: GrantTable, h: number): void {
  const mt = mapper.maptrack;
  const memory = s.ctx.memory;
  if (mapper.translated) {
    const p2m = s.ctx.p2mOf(mapper.domid);
    if (p2m !== undefined && (mt.revoked[h] ? p2m.mfnOf(Math.floor(mt.hostAddr[h]! / PAGE_SIZE) as never) < 0 : p2mMapsGrant(p2m, mt.hostAddr[h]!, mt.mfn[h]!))) {
      restoreP2mEntry(p2m, memory, mt, h);
    }
    return;
  }
  const maddr = mt.pteMaddr[h]!;
  const present = memory.ownerOf(Math.floor(maddr / PAGE_SIZE) as never) === mapper.domid && (mt.revoked[h] ? !pteMapsAnything(s, maddr) : pteMapsFrame(memory, maddr, mt.mfn[h]!));
  if (present) {
    restorePte(memory, mapper.domid, mt, h);
    flushTlbs(s, mapper.domid, flushAddress(mt.flags[h]!, mt.hostAddr[h]!));
  }
}

function pteMapsAnything(s: GnttabState, maddr: number): boolean {
  return (s.ctx.memory.frameWords(Math.floor(maddr / PAGE_SIZE) as never)[(maddr % PAGE_SIZE) >>> 2]! & 1) !== 0;
}

// --- operations ----------------------------------------------------------------------------------

/**
 * map_grant_ref: pins `dom`'s entry `ref` for the caller and maps the frame — into the caller's P2M at
 * gpa `hostAddr` (auto-translated caller), into its page tables (PV: at virtual address `hostAddr`, or
 * the PTE at machine address `hostAddr` with GNTMAP_contains_pte), and/or for devices (PV only).
 * Returns a GNTST_* status; on success `out` holds the handle and the bus address.
 */
export function mapGrantRef(s: GnttabState, caller: GnttabCaller, hostAddr: number, flags: number, ref: number, dom: number, out: MapResult): number {
  if ((flags & KINDS) === 0) return GNTST.bad_gntref;
  const mapper = s.tables[caller.domid];
  if (mapper === undefined) return GNTST.general_error;
  if (mapper.translated && (flags & (GNTMAP.device_map | GNTMAP.application_map | GNTMAP.contains_pte)) !== 0) return GNTST.general_error;
  const granter = s.tables[dom];
  if (granter === undefined) return GNTST.bad_domain;
  const readonly = (flags & GNTMAP.readonly) !== 0;
  const hostMap = (flags & GNTMAP.host_map) !== 0;
  let cr3 = 0;
  let nx = false;
  if (hostMap && !mapper.translated) {
    const regs = s.ctx.domains.get(caller.domid)?.vcpus[caller.vcpuId]?.context;
    if (regs === undefined) return GNTST.general_error;
    if ((flags & GNTMAP.contains_pte) === 0 && (regs.cr0 & X86_CR0_PG) === 0) return GNTST.general_error;
    cr3 = regs.cr3;
    nx = (regs.efer & X86_EFER_NXE) !== 0;
  }
  const mt = mapper.maptrack;
  const h = mt.allocate();
  if (h < 0) return GNTST.no_space;
  const st = granter.acquire(ref, caller.domid, readonly, s.ctx.p2mOf(dom));
  if (st !== GNTST.okay) {
    mt.release(h);
    return st;
  }
  const mfn = granter.mfnOf(ref);
  mt.hostAddr[h] = hostMap ? hostAddr : 0;
  if (hostMap) {
    const p2m = mapper.translated ? s.ctx.p2mOf(caller.domid) : undefined;
    const done = mapper.translated
      ? p2m === undefined
        ? GNTST.general_error
        : createP2mMapping(p2m, mt, h, hostAddr, mfn, readonly)
      : createPteMapping(s.ctx, caller.domid, cr3, nx, mt, h, hostAddr, flags, mfn);
    if (done !== GNTST.okay) {
      granter.release(ref, readonly);
      mt.release(h);
      return done;
    }
    if (!mapper.translated) flushTlbs(s, caller.domid, flushAddress(flags, hostAddr));
  }
  if ((flags & GNTMAP.device_map) !== 0 && hostMap) granter.acquire(ref, caller.domid, readonly, undefined);
  mt.flags[h] = flags & KEPT;
  mt.granter[h] = dom;
  mt.ref[h] = ref;
  mt.mfn[h] = mfn;
  out.handle = h;
  out.devBusAddr = (flags & GNTMAP.device_map) !== 0 ? mfn * PAGE_SIZE : 0;
  return GNTST.okay;
}

/**
 * unmap_grant_ref: removes the host mapping (when `hostAddr` ≠ 0; it must still be in place at that
 * address) and/or the device mapping (when `devBusAddr` ≠ 0; it must be the one map returned) of handle
 * `handle`, restoring what the host mapping replaced; frees the handle once nothing is left.
 */
export function unmapGrantRef(s: GnttabState, caller: GnttabCaller, hostAddr: number, devBusAddr: number, handle: number): number {
  const mapper = s.tables[caller.domid];
  if (mapper === undefined) return GNTST.general_error;
  const mt = mapper.maptrack;
  if (!mt.isLive(handle)) return GNTST.bad_handle;
  const h = handle;
  const flags = mt.flags[h]!;
  if (mt.revoked[h]) {
    if ((flags & GNTMAP.host_map) !== 0) removeHostMapping(s, mapper, h);
    mt.release(h);
    return GNTST.okay;
  }
  const granter = s.tables[mt.granter[h]!]!;
  const mfn = mt.mfn[h]!;
  const ref = mt.ref[h]!;
  const readonly = (flags & GNTMAP.readonly) !== 0;
  const device = devBusAddr !== 0 && (flags & GNTMAP.device_map) !== 0;
  if (device && devBusAddr !== mfn * PAGE_SIZE) return GNTST.bad_dev_addr;
  let done = 0;
  if (hostAddr !== 0 && (flags & GNTMAP.host_map) !== 0) {
    if (mapper.translated) {
      const p2m = s.ctx.p2mOf(caller.domid);
      const gfn = Math.floor(hostAddr / PAGE_SIZE);
      if (p2m === undefined || gfn !== Math.floor(mt.hostAddr[h]! / PAGE_SIZE) || !p2mMapsGrant(p2m, hostAddr, mfn)) return GNTST.general_error;
      restoreP2mEntry(p2m, s.ctx.memory, mt, h);
    } else {
      if (hostAddr !== mt.hostAddr[h] || !pteMapsFrame(s.ctx.memory, mt.pteMaddr[h]!, mfn)) return GNTST.general_error;
      restorePte(s.ctx.memory, caller.domid, mt, h);
      flushTlbs(s, caller.domid, flushAddress(flags, hostAddr));
    }
    done |= GNTMAP.host_map;
    granter.release(ref, readonly);
  }
  if (device) {
    done |= GNTMAP.device_map;
    granter.release(ref, readonly);
  }
  mt.flags[h] = flags & ~done;
  if ((mt.flags[h]! & KINDS) === 0) mt.release(h);
  return GNTST.okay;
}

// --- domain teardown -----------------------------------------------------------------------------

/** Unmaps every mapping `mapper` holds (its P2M/PTEs restored, the granters' pins dropped). Returns how many. */
export function unmapAllHeldBy(s: GnttabState, mapper: GrantTable): number {
  const mt = mapper.maptrack;
  let n = 0;
  for (let h = 0; h < mt.size; h++) {
    const flags = mt.flags[h]!;
    if (flags === 0) continue;
    if ((flags & GNTMAP.host_map) !== 0) removeHostMapping(s, mapper, h);
    if (!mt.revoked[h]) {
      const granter = s.tables[mt.granter[h]!];
      const readonly = (flags & GNTMAP.readonly) !== 0;
      if ((flags & GNTMAP.host_map) !== 0) granter?.release(mt.ref[h]!, readonly);
      if ((flags & GNTMAP.device_map) !== 0) granter?.release(mt.ref[h]!, readonly);
    }
    mt.release(h);
    n++;
  }
  return n;
}

/**
 * Revokes every mapping another domain holds of `granter`'s frames: the mapper's P2M entry is cleared
 * or its PTE made not present, so later accesses fault; the handle stays until the mapper unmaps it.
 */
export function revokeMappingsOf(s: GnttabState, granter: GrantTable): number {
  let n = 0;
  for (const mapper of s.tables) {
    if (mapper === undefined || mapper === granter) continue;
    const mt = mapper.maptrack;
    for (let h = 0; h < mt.size; h++) {
      if (mt.flags[h] === 0 || mt.revoked[h] || mt.granter[h] !== granter.domid) continue;
      if ((mt.flags[h]! & GNTMAP.host_map) !== 0) {
        if (mapper.translated) {
          const p2m = s.ctx.p2mOf(mapper.domid);
          if (p2m !== undefined && p2mMapsGrant(p2m, mt.hostAddr[h]!, mt.mfn[h]!)) p2m.clear(Math.floor(mt.hostAddr[h]! / PAGE_SIZE) as never);
        } else if (pteMapsFrame(s.ctx.memory, mt.pteMaddr[h]!, mt.mfn[h]!)) {
          clearPte(s.ctx.memory, mapper.domid, mt, h);
          flushTlbs(s, mapper.domid, flushAddress(mt.flags[h]!, mt.hostAddr[h]!));
        }
      }
      s.log.warn(`dom${granter.domid} is dying: revoked dom${mapper.domid}'s mapping of its grant ref ${mt.ref[h]} (handle ${h}, mfn 0x${mt.mfn[h]!.toString(16)})`);
      mt.revoked[h] = 1;
      mt.mfn[h] = -1;
      n++;
    }
  }
  return n;
}

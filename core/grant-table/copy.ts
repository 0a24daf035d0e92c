/** GNTTABOP_copy: copies within one page between grant references and the caller's own frames. */
import { P2mType, type MachineMemory } from '../api/memory.js';
import { GNTST } from '../public/grant-table.js';
import { PAGE_SIZE } from '../public/memory.js';
import type { GuestFrame, MachineFrame } from '../public/types.js';
import { DOMID_SELF } from '../public/xen.js';
import type { GnttabCaller, GnttabState } from './state.js';
import type { GrantTable } from './table.js';

/** One side of a copy, decoded from `gnttab_copy_ptr`. Reused across ops. */
export interface CopySide {
  /** True: `u` is a grant reference of `domid`; false: `u` is a gmfn of the caller (`domid` must be DOMID_SELF). */
  gref: boolean;
  u: number;
  domid: number;
  offset: number;
}

// --- helpers -------------------------------------------------------------------------------------

/** The caller's own frame `gmfn` (a GFN if auto-translated, an MFN if PV) as a machine frame, or −1. */
function ownFrame(s: GnttabState, caller: GrantTable, gmfn: number, write: boolean): number {
  let mfn = gmfn;
  if (caller.translated) {
    const p2m = s.ctx.p2mOf(caller.domid);
    if (p2m === undefined || !(gmfn >= 0 && gmfn < 2 ** 36)) return -1;
    mfn = p2m.mfnOf(gmfn as GuestFrame);
    const type = p2m.typeOf(gmfn as GuestFrame);
    const ram = type === P2mType.ram_rw || type === P2mType.ram_logdirty || (!write && type === P2mType.ram_ro);
    if (mfn < 0 || !ram) return -1;
  }
  return s.ctx.memory.ownerOf(mfn as MachineFrame) === caller.domid ? mfn : -1;
}

/** Xen's gnttab_copy_lock_domain: only DOMID_SELF may name a frame; a gref names a live domain's table. */
function lockDomain(s: GnttabState, caller: GnttabCaller, side: CopySide): GrantTable | number {
  if (!side.gref && side.domid !== DOMID_SELF) return GNTST.permission_denied;
  const table = s.tables[side.domid === DOMID_SELF ? caller.domid : side.domid];
  return table ?? GNTST.bad_domain;
}

function copyBytes(memory: MachineMemory, src: number, srcOffset: number, dst: number, dstOffset: number, len: number): void {
  const to = memory.frameBytes(dst as MachineFrame);
  if (memory.isBacked(src as MachineFrame)) to.set(memory.frameBytes(src as MachineFrame).subarray(srcOffset, srcOffset + len), dstOffset);
  else to.fill(0, dstOffset, dstOffset + len);
}

// --- the operation -------------------------------------------------------------------------------

/**
 * One copy op: claims the source (read) and destination (write) — a grant reference pins its entry
 * (GTF_reading / GTF_writing) for the duration — copies `len` bytes and charges `copyPerByte` each
 * through `charge`. Returns a GNTST_* status; nothing is written unless both sides are valid.
 */
export function grantCopy(s: GnttabState, caller: GnttabCaller, src: CopySide, dst: CopySide, len: number, charge: (cycles: number) => void): number {
  const me = s.tables[caller.domid];
  if (me === undefined) return GNTST.general_error;
  const sd = lockDomain(s, caller, src);
  if (typeof sd === 'number') return sd;
  const dd = lockDomain(s, caller, dst);
  if (typeof dd === 'number') return dd;
  if (src.offset + len > PAGE_SIZE || dst.offset + len > PAGE_SIZE) return GNTST.bad_copy_arg;
  let smfn: number;
  if (src.gref) {
    const st = sd.acquire(src.u, caller.domid, true, s.ctx.p2mOf(sd.domid));
    if (st !== GNTST.okay) return st;
    smfn = sd.mfnOf(src.u);
  } else {
    smfn = ownFrame(s, me, src.u, false);
    if (smfn < 0) return GNTST.bad_page;
  }
  let dmfn: number;
  let status: number = GNTST.okay;
  if (dst.gref) {
    status = dd.acquire(dst.u, caller.domid, false, s.ctx.p2mOf(dd.domid));
    dmfn = status === GNTST.okay ? dd.mfnOf(dst.u) : -1;
  } else {
    dmfn = ownFrame(s, me, dst.u, true);
    if (dmfn < 0) status = GNTST.bad_page;
  }
  if (status === GNTST.okay) {
    copyBytes(s.ctx.memory, smfn, src.offset, dmfn, dst.offset, len);
    charge(len * s.copyPerByte);
    if (dst.gref) dd.release(dst.u, false);
  }
  if (src.gref) sd.release(src.u, true);
  return status;
}

/**
 * An in-core backend's access to one granted page for the duration of `fn` (a grant map and unmap around
 * one I/O, without a host mapping: a Dom0 process's memory is not modelled as frames). The entry is
 * pinned meanwhile (GTF_reading, and GTF_writing when `write`); `fn` gets the whole 4 KiB page.
 */
export function grantAccess(s: GnttabState, caller: number, granter: number, ref: number, write: boolean, fn: (page: Uint8Array) => void): number {
  if (s.tables[caller] === undefined) return GNTST.general_error;
  const table = s.tables[granter];
  if (table === undefined) return GNTST.bad_domain;
  const readonly = !write;
  const st = table.acquire(ref, caller, readonly, s.ctx.p2mOf(granter));
  if (st !== GNTST.okay) return st;
  try {
    fn(s.ctx.memory.frameBytes(table.mfnOf(ref) as MachineFrame));
  } finally {
    table.release(ref, readonly);
  }
  return GNTST.okay;
}


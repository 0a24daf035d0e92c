/** The grant-table subsystem: HYPERVISOR_grant_table_op (v1), the GrantTables in-core API, and per-domain lifecycle. */
import type { Domain } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import { GrantTables as GrantTablesToken, type GrantCopyPtr, type GrantEntry, type GrantMapping, type GrantTables } from '../api/grant-table.js';
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import type { HypervisorContext, Subsystem } from '../host/subsystem.js';
import {
  GNTMAP,
  GNTST,
  GNTTAB_DEFAULT_MAX_FRAMES,
  GNTTAB_DEFAULT_MAX_MAPTRACK_FRAMES,
  GNTTAB_INITIAL_FRAMES,
  GNTTAB_PHYSMAP_IDX_STATUS,
  GNTTABOP,
  GRANT_ENTRIES_PER_FRAME_V1,
  GTF,
  GnttabCopy,
  GnttabMapGrantRef,
  GnttabQuerySize,
  GnttabSetupTable,
  GnttabUnmapGrantRef,
  MAPTRACK_ENTRIES_PER_FRAME,
} from '../public/grant-table.js';
import { XenErrno } from '../public/errno.js';
import { DOMID_SELF } from '../public/xen.js';
import { domId, grantRef, type DomId, type GrantRef, type GuestFrame, type MachineFrame } from '../public/types.js';
import { grantAccess, grantCopy, type CopySide } from './copy.js';
import { mapGrantRef, revokeMappingsOf, unmapAllHeldBy, unmapGrantRef, type MapResult } from './map.js';
import type { GnttabCaller, GnttabState } from './state.js';
import { GrantTable } from './table.js';

/** Ops read from the guest per chunk (bounds the buffer whatever `count` says). */
const CHUNK = 64;
const TWO_32 = 2 ** 32;
/** `(cmd >> GNTTABOP_CONTINUATION_ARG_SHIFT)`: continuation bits, only valid with cache_flush. */
const CMD_MASK = (1 << 12) - 1;
/** `struct gnttab_get_version` / `gnttab_set_version`. */
const VERSION_OFFSET = 4;

// --- helpers -------------------------------------------------------------------------------------

/** The target of setup_table / query_size (Xen's rcu_lock_domain_by_any_id + XSM_TARGET): a status or the table. */
function targetTable(s: GnttabState, caller: GnttabCaller, dom: number): GrantTable | number {
  const domid = dom === DOMID_SELF ? caller.domid : dom;
  const table = s.tables[domid];
  if (table === undefined) return GNTST.bad_domain;
  if (domid !== caller.domid && !caller.privileged) return GNTST.permission_denied;
  return table;
}

function tableOrThrow(s: GnttabState, domid: number): GrantTable {
  const table = s.tables[domid];
  if (table === undefined) throw new GuestError('ESRCH', `gnttab: dom${domid} has no grant table`, { domid });
  return table;
}

function u64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * TWO_32 + view.getUint32(at, true);
}

function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO_32, true);
  view.setUint32(at + 4, Math.floor(value / TWO_32), true);
}

function decodeSide(view: DataView, at: number, gref: boolean, side: CopySide): void {
  side.gref = gref;
  side.u = gref ? view.getUint32(at, true) : u64(view, at);
  side.domid = view.getUint16(at + 8, true);
  side.offset = view.getUint16(at + 10, true);
}

/** Runs `op` over `count` structs of `size` bytes at `addr`, CHUNK at a time; `op` sets OUT fields in the view. */
/** Scratch for op structs read from guests (copy_from_guest into a buffer the hypervisor owns), reused by every call. */
const SCRATCH = new Uint8Array(CHUNK * 64);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);

function forEachOp(ctx: HypercallContext, addr: number, count: number, size: number, out: OpOut, op: (view: DataView, at: number) => void): void {
  if (count === 1) {
    // The common case, one op per hypercall: views made once per op kind, nothing allocated.
    ctx.guest.readInto(addr, out.whole);
    op(SCRATCH_VIEW, 0);
    ctx.guest.write(addr + out.from, out.result);
    return;
  }
  for (let done = 0; done < count; ) {
    const n = Math.min(CHUNK, count - done);
    const base = addr + done * size;
    const bytes = SCRATCH.subarray(0, n * size);
    ctx.guest.readInto(base, bytes);
    for (let i = 0; i < n; i++) {
      op(SCRATCH_VIEW, i * size);
      ctx.guest.write(base + i * size + out.from, bytes.subarray(i * size + out.from, i * size + out.to));
    }
    done += n;
  }
}

/** Where an op struct's OUT fields are (bytes `from`..`to`), with the scratch views of a one-op call. */
interface OpOut {
  from: number;
  to: number;
  whole: Uint8Array;
  result: Uint8Array;
}

function opOut(size: number, from: number, to: number): OpOut {
  return { from, to, whole: SCRATCH.subarray(0, size), result: SCRATCH.subarray(from, to) };
}

// --- operations ----------------------------------------------------------------------------------

function setupTable(s: GnttabState, ctx: HypercallContext, addr: number): void {
  const bytes = ctx.guest.read(addr, GnttabSetupTable.size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nr = view.getUint32(GnttabSetupTable.nrFrames, true);
  const list = ctx.guest.readU64(addr + GnttabSetupTable.frameList);
  const target = targetTable(s, ctx, view.getUint16(GnttabSetupTable.dom, true));
  let status: number;
  if (typeof target === 'number') status = target;
  else if (nr > target.maxFrames || !growTable(s, target, nr)) status = GNTST.general_error;
  else {
    status = GNTST.okay;
    const p2m = s.ctx.p2mOf(target.domid);
    for (let i = 0; i < nr; i++) {
      const frame = target.translated ? target.frameGfn(i, p2m) : target.frames[i]!;
      try {
        ctx.guest.writeU64(list + i * 8, frame);
      } catch (error) {
        if (!(error instanceof GuestError)) throw error;
        status = GNTST.bad_virt_addr;
      }
    }
  }
  ctx.guest.writeU16(addr + GnttabSetupTable.status, status & 0xffff);
}

function querySize(s: GnttabState, ctx: HypercallContext, addr: number): void {
  const target = targetTable(s, ctx, ctx.guest.readU16(addr + GnttabQuerySize.dom));
  const out = new Uint8Array(GnttabQuerySize.size - GnttabQuerySize.nrFrames);
  const view = new DataView(out.buffer);
  if (typeof target !== 'number') {
    view.setUint32(GnttabQuerySize.nrFrames - 4, target.frames.length, true);
    view.setUint32(GnttabQuerySize.maxNrFrames - 4, target.maxFrames, true);
  }
  view.setInt16(GnttabQuerySize.status - 4, typeof target === 'number' ? target : GNTST.okay, true);
  ctx.guest.write(addr + GnttabQuerySize.nrFrames, out);
}

/** Grows a table, turning the host running out of memory into a refusal. */
function growTable(s: GnttabState, table: GrantTable, nr: number): boolean {
  try {
    return table.grow(nr);
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    s.log.warn(`dom${table.domid}: cannot grow the grant table to ${nr} frames: ${error.detail}`);
    return false;
  }
}

// --- the subsystem -------------------------------------------------------------------------------

/** Makes the grant-table subsystem: registers hypercall 20 and the {@link GrantTables} API, follows domain lifecycle. */
export function createGrantTablesSubsystem(ctx: HypervisorContext): Subsystem {
  const s: GnttabState = { ctx, log: ctx.log.child('gnttab'), tables: [], copyPerByte: ctx.engine.cost.copyPerByte };
  const mapOut: MapResult = { handle: 0, devBusAddr: 0 };
  const src: CopySide = { gref: false, u: 0, domid: 0, offset: 0 };
  const dst: CopySide = { gref: false, u: 0, domid: 0, offset: 0 };

  // --- dispatch: decode → call → encode ---

  // The caller of the hypercall being decoded: the op decoders below are made once, not per call.
  let c: HypercallContext = undefined as never;
  const charge = (cycles: number) => c.charge(cycles);
  const mapOp = (view: DataView, at: number) => {
    const status = mapGrantRef(
      s,
      c,
      u64(view, at + GnttabMapGrantRef.hostAddr),
      view.getUint32(at + GnttabMapGrantRef.flags, true),
      view.getUint32(at + GnttabMapGrantRef.ref, true),
      view.getUint16(at + GnttabMapGrantRef.dom, true),
      mapOut,
    );
    view.setInt16(at + GnttabMapGrantRef.status, status, true);
    if (status === GNTST.okay) {
      view.setUint32(at + GnttabMapGrantRef.handle, mapOut.handle, true);
      setU64(view, at + GnttabMapGrantRef.devBusAddr, mapOut.devBusAddr);
    }
  };
  const unmapOp = (view: DataView, at: number) => {
    const status = unmapGrantRef(s, c, u64(view, at + GnttabUnmapGrantRef.hostAddr), u64(view, at + GnttabUnmapGrantRef.devBusAddr), view.getUint32(at + GnttabUnmapGrantRef.handle, true));
    view.setInt16(at + GnttabUnmapGrantRef.status, status, true);
  };
  const copyOp = (view: DataView, at: number) => {
    const flags = view.getUint16(at + GnttabCopy.flags, true);
    decodeSide(view, at + GnttabCopy.sourceU, (flags & 1) !== 0, src);
    decodeSide(view, at + GnttabCopy.destU, (flags & 2) !== 0, dst);
    const status = grantCopy(s, c, src, dst, view.getUint16(at + GnttabCopy.len, true), charge);
    view.setInt16(at + GnttabCopy.status, status, true);
  };
  const MAP_OUT = opOut(GnttabMapGrantRef.size, GnttabMapGrantRef.status, GnttabMapGrantRef.size);
  const UNMAP_OUT = opOut(GnttabUnmapGrantRef.size, GnttabUnmapGrantRef.status, GnttabUnmapGrantRef.status + 2);
  const COPY_OUT = opOut(GnttabCopy.size, GnttabCopy.status, GnttabCopy.status + 2);

  const dispatch = (caller: HypercallContext, args: HypercallArgs): number => {
    c = caller;
    const raw = (args[0] ?? 0) >>> 0;
    const addr = args[1] ?? 0;
    const count = (args[2] ?? 0) | 0;
    if (count < 0) return -XenErrno.EINVAL;
    const cmd = raw & CMD_MASK;
    if (raw >>> 12 !== 0 && cmd !== GNTTABOP.cache_flush) return -XenErrno.EINVAL;
    switch (cmd) {
      case GNTTABOP.map_grant_ref:
        forEachOp(c, addr, count, GnttabMapGrantRef.size, MAP_OUT, mapOp);
        return 0;
      case GNTTABOP.unmap_grant_ref:
        forEachOp(c, addr, count, GnttabUnmapGrantRef.size, UNMAP_OUT, unmapOp);
        return 0;
      case GNTTABOP.copy:
        forEachOp(c, addr, count, GnttabCopy.size, COPY_OUT, copyOp);
        return 0;
      case GNTTABOP.setup_table:
        if (count !== 1) return -XenErrno.EINVAL;
        setupTable(s, c, addr);
        return 0;
      case GNTTABOP.query_size:
        if (count !== 1) return -XenErrno.EINVAL;
        querySize(s, c, addr);
        return 0;
      case GNTTABOP.get_version: {
        if (count !== 1) return -XenErrno.EINVAL;
        const dom = c.guest.readU16(addr);
        if (typeof targetTable(s, c, dom) === 'number') return dom === DOMID_SELF || s.tables[dom] !== undefined ? -XenErrno.EPERM : -XenErrno.ESRCH;
        c.guest.writeU32(addr + VERSION_OFFSET, 1);
        return 0;
      }
      case GNTTABOP.set_version: {
        if (count !== 1) return -XenErrno.EINVAL;
        const version = c.guest.readU32(addr);
        c.guest.writeU32(addr, 1);
        return version === 1 ? 0 : version === 2 ? -XenErrno.EACCES : -XenErrno.EINVAL;
      }
      default:
        return -XenErrno.ENOSYS;
    }
  };

  // --- in-core API ---

  const api: GrantTables = {
    frameForPhysmap(domid: DomId, idx: number, gfn?: GuestFrame): MachineFrame {
      const table = tableOrThrow(s, domid);
      if ((idx & GNTTAB_PHYSMAP_IDX_STATUS) !== 0) throw new GuestError('EINVAL', `gnttab: status frame ${idx & ~GNTTAB_PHYSMAP_IDX_STATUS} asked for, but grant tables are v1`, { domid });
      if (!(Number.isInteger(idx) && idx >= 0 && idx < table.maxFrames)) throw new GuestError('EINVAL', `gnttab: frame ${idx} is beyond the maximum of ${table.maxFrames}`, { domid });
      if (!table.grow(idx + 1)) throw new GuestError('EINVAL', `gnttab: cannot grow to ${idx + 1} frames`, { domid });
      if (gfn !== undefined) table.frameGfns[idx] = gfn;
      return table.frames[idx]!;
    },
    setMaxFrames(domid: DomId, frames: number): void {
      const table = tableOrThrow(s, domid);
      if (!(Number.isInteger(frames) && frames >= 1 && frames <= 0x10000) || frames < table.frames.length) {
        throw new GuestError('EINVAL', `gnttab: max_grant_frames must be an integer in ${Math.max(1, table.frames.length)}..65536, got ${frames}`, { domid });
      }
      table.maxFrames = frames;
    },
    setMaxMaptrackFrames(domid: DomId, frames: number): void {
      const table = tableOrThrow(s, domid);
      if (!(Number.isInteger(frames) && frames >= 1 && frames <= 0x10000)) throw new GuestError('EINVAL', `gnttab: max_maptrack_frames must be an integer in 1..65536, got ${frames}`, { domid });
      table.maptrack.maxEntries = frames * MAPTRACK_ENTRIES_PER_FRAME;
    },
    nrFrames: (domid: DomId) => tableOrThrow(s, domid).frames.length,
    entry(domid: DomId, ref: GrantRef): GrantEntry | undefined {
      const table = tableOrThrow(s, domid);
      if (!(Number.isInteger(ref) && ref >= 0 && ref < table.nrEntries)) return undefined;
      return { flags: table.flagsOf(ref), domid: domId(table.domidOf(ref)), frame: table.frameOf(ref) };
    },
    grantAccess(domid: DomId, ref: GrantRef, grantee: DomId, frame: number, readonly: boolean): void {
      const table = tableOrThrow(s, domid);
      if (!(Number.isInteger(ref) && ref >= 0)) throw new GuestError('EINVAL', `gnttab: bad grant ref ${ref}`, { domid });
      if (!growTable(s, table, Math.floor(ref / GRANT_ENTRIES_PER_FRAME_V1) + 1)) throw new GuestError('EINVAL', `gnttab: grant ref ${ref} is beyond ${table.maxFrames} frames`, { domid });
      if (table.pinned(ref)) throw new GuestError('EBUSY', `gnttab: grant ref ${ref} is in use`, { domid });
      table.writeEntry(ref, GTF.permit_access | (readonly ? GTF.readonly : 0), grantee, frame);
    },
    activeMappings(domid: DomId): GrantMapping[] {
      const out: GrantMapping[] = [];
      for (const mapper of s.tables) {
        if (mapper === undefined) continue;
        const mt = mapper.maptrack;
        for (let h = 0; h < mt.size; h++) {
          if (mt.flags[h] === 0 || (mapper.domid !== domid && mt.granter[h] !== domid)) continue;
          const flags = mt.flags[h]!;
          out.push({ handle: h, mapper: mapper.domid, granter: domId(mt.granter[h]!), ref: grantRef(mt.ref[h]!), mfn: mt.mfn[h]!, flags, hostAddr: (flags & GNTMAP.host_map) !== 0 ? mt.hostAddr[h]! : 0, revoked: mt.revoked[h] === 1 });
        }
      }
      return out;
    },
    copy(caller: DomId, source: GrantCopyPtr, dest: GrantCopyPtr, len: number): number {
      const who = { domid: caller, vcpuId: 0, privileged: false };
      const side = (p: GrantCopyPtr): CopySide => ('ref' in p ? { gref: true, u: p.ref, domid: p.domid, offset: p.offset } : { gref: false, u: p.gmfn, domid: DOMID_SELF, offset: p.offset });
      if (!(Number.isInteger(len) && len >= 0 && len <= 0xffff)) return GNTST.bad_copy_arg;
      return grantCopy(s, who, side(source), side(dest), len, () => {});
    },
    access(caller: DomId, granter: DomId, ref: GrantRef, write: boolean, fn: (page: Uint8Array) => void): number {
      return grantAccess(s, caller, granter, ref, write, fn);
    },
  };

  // --- domain init / destroy ---

  const init = (d: Domain) => {
    if (s.tables[d.domid] !== undefined) return;
    const table = new GrantTable(d.domid, d.mode !== 'pv', ctx.memory, GNTTAB_DEFAULT_MAX_FRAMES, GNTTAB_DEFAULT_MAX_MAPTRACK_FRAMES * MAPTRACK_ENTRIES_PER_FRAME);
    table.grow(GNTTAB_INITIAL_FRAMES);
    s.tables[d.domid] = table;
  };
  const dying = (d: Domain) => {
    const table = s.tables[d.domid];
    if (table === undefined) return;
    const held = unmapAllHeldBy(s, table);
    const revoked = revokeMappingsOf(s, table);
    s.tables[d.domid] = undefined;
    if (held + revoked > 0) s.log.info(`dom${d.domid} is dying: unmapped ${held} grant mapping(s) it held, revoked ${revoked} of its grants`);
  };
  for (const d of ctx.domains.list()) init(d);
  ctx.domains.events.on('created', init);
  ctx.domains.events.on('dying', dying);
  const unregister = ctx.hypercalls.register('grant_table_op', dispatch);
  ctx.container.registerInstance(GrantTablesToken, api);

  return {
    name: 'grant-table',
    dump: () => dumpTables(s),
    dispose() {
      unregister();
      ctx.domains.events.off('created', init);
      ctx.domains.events.off('dying', dying);
    },
  };
}

/** Xen's 'g' keyhandler: per domain, its frames, the entries in use with their pins, and its maptrack. */
function dumpTables(s: GnttabState): string {
  const lines: string[] = [];
  for (const t of s.tables) {
    if (t === undefined) continue;
    lines.push(`dom${t.domid}: ${t.frames.length}/${t.maxFrames} frames (${t.translated ? 'gfn' : 'mfn'} entries), maptrack ${t.maptrack.inUse} in use`);
    for (const ref of t.usedEntries()) {
      const pins = t.pinsOf(ref);
      const active = pins.read + pins.write > 0 ? ` mfn 0x${t.mfnOf(ref).toString(16)} pins r${pins.read}/w${pins.write}` : '';
      lines.push(`  ref ${ref}: flags 0x${t.flagsOf(ref).toString(16)} → dom${t.domidOf(ref)} frame 0x${t.frameOf(ref).toString(16)}${active}`);
    }
  }
  return lines.join('\n');
}

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { GNTCOPY, GNTMAP, GNTST, GNTTAB_PHYSMAP_IDX_STATUS, GnttabQuerySize, GnttabSetupTable, GTF } from '../../../core/public/grant-table.js';
import { DOMID_SELF } from '../../../core/public/xen.js';
import { domId, grantRef, guestFrame } from '../../../core/public/types.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { GrantTable } from '../../../core/grant-table/table.js';
import { OPS, TABLE_GFN, copyGrant, gnttabOp, grantTables, guestGrant, mapGrant, mapOwnTable, mfnOfGfn } from './helpers.js';

let host: Host;
beforeEach(async () => {
  ({ host } = await bootTestHost({ guests: [{ name: 'a' }, { name: 'b', type: 'hvm' }] }));
});
afterEach(async () => {
  await host?.shutdown();
});

function setupTable(domid: number, dom: number, nrFrames: number): { status: number; frames: number[] } {
  const g = vcpuOf(host, domid).guest;
  const list = OPS + 0x100;
  g.writeU16(OPS + GnttabSetupTable.dom, dom);
  g.writeU32(OPS + GnttabSetupTable.nrFrames, nrFrames);
  g.writeU64(OPS + GnttabSetupTable.frameList, list);
  expect(gnttabOp(host, domid, 2, OPS, 1)).toBe(0);
  const status = (g.readU16(OPS + GnttabSetupTable.status) << 16) >> 16;
  return { status, frames: Array.from({ length: status === 0 ? nrFrames : 0 }, (_, i) => g.readU64(list + i * 8)) };
}

function querySize(domid: number, dom: number): { status: number; nr: number; max: number } {
  const g = vcpuOf(host, domid).guest;
  g.writeU16(OPS + GnttabQuerySize.dom, dom);
  expect(gnttabOp(host, domid, 6, OPS, 1)).toBe(0);
  return { status: (g.readU16(OPS + GnttabQuerySize.status) << 16) >> 16, nr: g.readU32(OPS + GnttabQuerySize.nrFrames), max: g.readU32(OPS + GnttabQuerySize.maxNrFrames) };
}

describe('grant-table frames', () => {
  it('starts with one frame owned by the domain outside its reservation, at most 64', () => {
    const gt = grantTables(host);
    expect(gt.nrFrames(domId(1))).toBe(1);
    expect(querySize(1, DOMID_SELF)).toEqual({ status: GNTST.okay, nr: 1, max: 64 });
    expect(host.domains.lookup(1).totPages).toBe(16 * 256);
  });

  it('setup_table grows the table and returns MFNs to a PV caller', () => {
    const r = setupTable(0, DOMID_SELF, 4);
    expect(r.status).toBe(GNTST.okay);
    expect(grantTables(host).nrFrames(domId(0))).toBe(4);
    for (const mfn of r.frames) expect(host.memory.ownerOf(mfn as never)).toBe(0);
    expect(new Set(r.frames).size).toBe(4);
  });

  it('setup_table returns GFNs to an auto-translated caller: where add_to_physmap put each frame, ~0 elsewhere', () => {
    mapOwnTable(host, 1);
    const r = setupTable(1, DOMID_SELF, 2);
    expect(r.status).toBe(GNTST.okay);
    expect(r.frames[0]).toBe(TABLE_GFN);
    expect(r.frames[1]).toBe(-1); // u64 ~0 (INVALID_GFN) reads back as -1
  });

  it('setup_table past the maximum is GNTST_general_error; another domain needs privilege', () => {
    grantTables(host).setMaxFrames(domId(1), 4);
    expect(setupTable(1, DOMID_SELF, 5).status).toBe(GNTST.general_error);
    expect(grantTables(host).nrFrames(domId(1))).toBe(1);
    expect(setupTable(1, 2, 1).status).toBe(GNTST.permission_denied);
    expect(setupTable(1, 99, 1).status).toBe(GNTST.bad_domain);
    expect(setupTable(0, 1, 2).status).toBe(GNTST.okay);
    expect(querySize(0, 1)).toEqual({ status: GNTST.okay, nr: 2, max: 4 });
  });

  it('setup_table and query_size take exactly one op; unknown commands are ENOSYS, stray continuation bits EINVAL', () => {
    expect(gnttabOp(host, 1, 2, OPS, 2)).toBe(-22);
    expect(gnttabOp(host, 1, 6, OPS, 0)).toBe(-22);
    expect(gnttabOp(host, 1, 99, OPS, 1)).toBe(-38);
    expect(gnttabOp(host, 1, 0x1000, OPS, 1)).toBe(-22);
    expect(gnttabOp(host, 1, 0, OPS, -1)).toBe(-22);
    expect(gnttabOp(host, 1, 0, 0x7fff_0000_0000, 1)).toBe(-14);
  });

  it('frameForPhysmap grows the table on demand and refuses status frames and frames past the maximum', () => {
    const gt = grantTables(host);
    const mfn = gt.frameForPhysmap(domId(1), 3);
    expect(gt.nrFrames(domId(1))).toBe(4);
    expect(host.memory.ownerOf(mfn)).toBe(1);
    expect(() => gt.frameForPhysmap(domId(1), GNTTAB_PHYSMAP_IDX_STATUS)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => gt.frameForPhysmap(domId(1), 64)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('grantAccess writes the domain builder reserved entries; entry() decodes them', () => {
    const gt = grantTables(host);
    gt.grantAccess(domId(1), grantRef(1), domId(0), 0xfeff, false);
    expect(gt.entry(domId(1), grantRef(1))).toEqual({ flags: GTF.permit_access, domid: 0, frame: 0xfeff });
    expect(gt.entry(domId(1), grantRef(512))).toBeUndefined();
  });
});

describe('GNTTABOP_copy', () => {
  beforeEach(() => {
    mapOwnTable(host, 1);
    vcpuOf(host, 1).guest.write(0x100 * 4096 + 100, new TextEncoder().encode('grant copy'));
  });

  it('copies from a grant into the caller frame and back, with the entry flags clear afterwards', () => {
    guestGrant(host, 1, 8, 2, 0x100);
    expect(copyGrant(host, 2, { source: { u: 8, domid: 1, offset: 100 }, dest: { u: 0x200, domid: DOMID_SELF, offset: 8 }, len: 10, flags: GNTCOPY.source_gref })).toBe(GNTST.okay);
    expect(new TextDecoder().decode(vcpuOf(host, 2).guest.read(0x200 * 4096 + 8, 10))).toBe('grant copy');
    vcpuOf(host, 2).guest.write(0x200 * 4096, new TextEncoder().encode('reply'));
    expect(copyGrant(host, 2, { source: { u: 0x200, domid: DOMID_SELF, offset: 0 }, dest: { u: 8, domid: 1, offset: 0 }, len: 5, flags: GNTCOPY.dest_gref })).toBe(GNTST.okay);
    expect(new TextDecoder().decode(vcpuOf(host, 1).guest.read(0x100 * 4096, 5))).toBe('reply');
    expect(grantTables(host).entry(domId(1), grantRef(8))!.flags).toBe(GTF.permit_access);
  });

  it('refuses a copy crossing a 4 KiB boundary on either side (GNTST_bad_copy_arg)', () => {
    guestGrant(host, 1, 8, 2, 0x100);
    expect(copyGrant(host, 2, { source: { u: 8, domid: 1, offset: 4000 }, dest: { u: 0x200, domid: DOMID_SELF, offset: 0 }, len: 100, flags: GNTCOPY.source_gref })).toBe(GNTST.bad_copy_arg);
    expect(copyGrant(host, 2, { source: { u: 8, domid: 1, offset: 0 }, dest: { u: 0x200, domid: DOMID_SELF, offset: 4095 }, len: 2, flags: GNTCOPY.source_gref })).toBe(GNTST.bad_copy_arg);
  });

  it('charges copyPerByte for each byte copied', () => {
    guestGrant(host, 1, 8, 2, 0x100);
    const v = vcpuOf(host, 2);
    const copy = (len: number) => {
      const t0 = v.now;
      copyGrant(host, 2, { source: { u: 8, domid: 1, offset: 0 }, dest: { u: 0x200, domid: DOMID_SELF, offset: 0 }, len, flags: GNTCOPY.source_gref });
      return v.now - t0;
    };
    const extra = copy(4096) - copy(0);
    expect(extra).toBeCloseTo((4096 * host.engine.cost.copyPerByte * 1000) / host.engine.cost.cpuMhz, 3);
  });

  it('the in-core copy serves a backend without a guest op struct', () => {
    guestGrant(host, 1, 8, 0, 0x100);
    const dom0Frame = host.p2mOf(0)!.mfnOf(guestFrame(5));
    const st = grantTables(host).copy(domId(0), { ref: grantRef(8), domid: domId(1), offset: 100 }, { gmfn: dom0Frame, offset: 0 }, 10);
    expect(st).toBe(GNTST.okay);
    expect(new TextDecoder().decode(host.memory.frameBytes(dom0Frame as never).subarray(0, 10))).toBe('grant copy');
  });

  it('an in-core backend reaches a granted page for one access, pinned meanwhile, and writes only through a writable grant', () => {
    guestGrant(host, 1, 8, 0, 0x100);
    guestGrant(host, 1, 9, 0, 0x101, GTF.permit_access | GTF.readonly);
    const gt = grantTables(host);
    let flagsInside = 0;
    expect(gt.access(domId(0), domId(1), grantRef(8), true, (page) => {
      flagsInside = gt.entry(domId(1), grantRef(8))!.flags;
      page.set(new TextEncoder().encode('from dom0'), 16);
    })).toBe(GNTST.okay);
    expect(flagsInside).toBe(GTF.permit_access | GTF.reading | GTF.writing);
    expect(gt.entry(domId(1), grantRef(8))!.flags).toBe(GTF.permit_access);
    expect(new TextDecoder().decode(vcpuOf(host, 1).guest.read(0x100 * 4096 + 16, 9))).toBe('from dom0');
    let called = false;
    expect(gt.access(domId(0), domId(1), grantRef(9), true, () => (called = true))).toBe(GNTST.permission_denied);
    expect(gt.access(domId(2), domId(1), grantRef(8), false, () => (called = true))).toBe(GNTST.general_error); // Xen: "Bad domain"
    expect(gt.access(domId(0), domId(1), grantRef(10), false, () => (called = true))).not.toBe(GNTST.okay);
    expect(called).toBe(false);
    expect(gt.access(domId(0), domId(1), grantRef(9), false, (page) => void page.subarray(0, 1))).toBe(GNTST.okay);
  });
});

describe('PV mappers', () => {
  it('a PV backend gets dev_bus_addr = mfn << 12 for a device mapping', () => {
    mapOwnTable(host, 1);
    guestGrant(host, 1, 8, 0, 0x100);
    const r = mapGrant(host, 0, { hostAddr: 0, flags: GNTMAP.device_map, ref: 8, dom: 1 });
    expect(r.status).toBe(GNTST.okay);
    expect(r.devBusAddr).toBe(mfnOfGfn(host, 1, 0x100) * 4096);
  });

  it('a host mapping needs page tables: GNTST_general_error while CR0.PG is clear', () => {
    mapOwnTable(host, 1);
    guestGrant(host, 1, 8, 0, 0x100);
    expect(mapGrant(host, 0, { hostAddr: 0x4000_0000, flags: GNTMAP.host_map, ref: 8, dom: 1 }).status).toBe(GNTST.general_error);
  });
});

describe('the active entries of a table (unit)', () => {
  it('are made by the first pin and keep their pins, frames and grantees as the table grows', () => {
    const memory = new HostMachineMemory(1024);
    const table = new GrantTable(domId(3), false, memory, 4, 64);
    table.grow(1);
    const [page] = memory.allocate(domId(3), 1);
    expect(table.pinned(5)).toBe(false);
    expect(table.pinsOf(5)).toEqual({ read: 0, write: 0 });
    table.writeEntry(5, GTF.permit_access, 2, page!);
    expect(table.acquire(5, 2, false, undefined)).toBe(GNTST.okay);
    expect(table.acquire(5, 7, true, undefined)).toBe(GNTST.general_error);
    expect(table.grow(2)).toBe(true);
    expect(table.pinned(5)).toBe(true);
    expect(table.mfnOf(5)).toBe(page);
    expect(table.pinsOf(5)).toEqual({ read: 0, write: 1 });
    table.writeEntry(600, GTF.permit_access | GTF.readonly, 2, page!);
    expect(table.acquire(600, 2, true, undefined)).toBe(GNTST.okay);
    expect(table.pinned(600)).toBe(true);
    expect(table.pinsOf(600)).toEqual({ read: 1, write: 0 });
    expect(table.flagsOf(600) & GTF.reading).toBe(GTF.reading);
    table.release(5, false);
    table.release(600, true);
    expect(table.pinned(5) || table.pinned(600)).toBe(false);
    expect(table.flagsOf(5) & (GTF.reading | GTF.writing)).toBe(0);
  });
});

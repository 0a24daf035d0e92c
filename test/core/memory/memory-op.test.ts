import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { GrantTables } from '../../../core/api/grant-table.js';
import { DOMID_SELF, E820, E820Entry, XENMAPSPACE, XENMEM, XenErrno, XenMemoryMap, XenForeignMemoryMap, MEMOP_EXTENT_SHIFT, XENMAPIDX_grant_table_status } from '../../../core/public/index.js';
import { domId, guestFrame, machineFrame } from '../../../core/public/types.js';
import { PvMm } from '../../../core/api/pv-mm.js';
import { bootTestHost, vcpuOf, hypercallFrom } from '../../hypervisor/harness.js';
import { ARG, LIST, memoryOp, snapshot, writeAddToPhysmap, writeRemoveFromPhysmap, writeReservation, framesConserved } from './memory-op-helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

const PAGES = 4096; // a 16 MiB guest
const mapped = (domid: number, gfn: number): boolean => host.p2mOf(domid)!.lookup(guestFrame(gfn)) !== undefined;
const tot = (domid: number): number => host.domains.lookup(domid).totPages;

async function boot(guests: { name: string; type?: 'pv' | 'pvh' | 'hvm' }[] = [{ name: 'a' }]): Promise<void> {
  ({ host } = await bootTestHost({ guests }));
}

describe('memory_op reservations', () => {
  it('balloons down with decrease_reservation (frames back to the host) and up with populate_physmap (fresh zeroed frames)', async () => {
    await boot();
    const g = vcpuOf(host, 1).guest;
    g.writeU32(0x800 * 4096, 0xdeadbeef);
    const free = host.memory.freeFrames;
    writeReservation(host, 1, { extents: [0x800, 0x801, 0x802] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(3);
    expect(tot(1)).toBe(PAGES - 3);
    expect(host.memory.freeFrames).toBe(free + 3);
    expect(mapped(1, 0x800)).toBe(false);
    expect(() => g.readU32(0x800 * 4096)).toThrow(expect.objectContaining({ code: 'EFAULT' }));

    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(3);
    expect(tot(1)).toBe(PAGES);
    expect(host.memory.freeFrames).toBe(free);
    expect(g.readU32(0x800 * 4096)).toBe(0);
    expect(framesConserved(host)).toBe(true);
  });

  it('goes through a guest program end to end', async () => {
    await boot();
    writeReservation(host, 1, { extents: [0x900] });
    expect(hypercallFrom(host, 1, 12, XENMEM.decrease_reservation, ARG)).toBe(1);
    expect(mapped(1, 0x900)).toBe(false);
  });

  it('populate_physmap stops at max_pages', async () => {
    await boot();
    writeReservation(host, 1, { extents: [0x800, 0x801] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(2);
    writeReservation(host, 1, { extents: [0x2000, 0x2001, 0x2002, 0x2003] });
    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(2);
    expect(tot(1)).toBe(PAGES);
    expect([0x2000, 0x2001, 0x2002].map((gfn) => mapped(1, gfn))).toEqual([true, true, false]);
  });

  it('decrease_reservation stops at the first GFN the domain does not have', async () => {
    await boot();
    writeReservation(host, 1, { extents: [0x800, 0x5000, 0x801] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(1);
    expect(mapped(1, 0x800)).toBe(false);
    expect(mapped(1, 0x801)).toBe(true);
    expect(tot(1)).toBe(PAGES - 1);
  });

  it('refuses GFNs beyond the 48-bit guest-physical space, and already-mapped GFNs', async () => {
    await boot();
    writeReservation(host, 1, { extents: [0x800] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(1);
    const free = host.memory.freeFrames;
    for (const gfn of [2 ** 36, 2 ** 52, 0x801]) {
      writeReservation(host, 1, { extents: [gfn] });
      expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(0);
    }
    expect(host.memory.freeFrames).toBe(free);
    writeReservation(host, 1, { extents: [2 ** 36 - 1] });
    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(1);
    expect(mapped(1, 2 ** 36 - 1)).toBe(true);
  });

  it('extent_order n moves 2^n pages per extent; misaligned extents stop, absurd orders are −EINVAL', async () => {
    await boot();
    writeReservation(host, 1, { extents: [0x800], order: 2 });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(1);
    expect(tot(1)).toBe(PAGES - 4);
    writeReservation(host, 1, { extents: [0x801], order: 2 });
    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(0);
    writeReservation(host, 1, { extents: [0x800], order: 2 });
    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(1);
    expect([0x800, 0x801, 0x802, 0x803].every((gfn) => mapped(1, gfn))).toBe(true);
    writeReservation(host, 1, { extents: [0x800], order: 10 });
    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(-XenErrno.EINVAL);
    writeReservation(host, 0, { extents: [0x800], order: 19, domid: 1 });
    expect(memoryOp(host, 0, XENMEM.decrease_reservation)).toBe(-XenErrno.EINVAL);
    expect(tot(1)).toBe(PAGES);
  });

  it('resumes at the start extent a continuation encodes in cmd', async () => {
    await boot();
    writeReservation(host, 1, { extents: [0x800, 0x801] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation | (1 << MEMOP_EXTENT_SHIFT))).toBe(2);
    expect(mapped(1, 0x800)).toBe(true);
    expect(mapped(1, 0x801)).toBe(false);
  });

  it('increase_reservation gives a PV guest the MFN it allocated', async () => {
    await boot([{ name: 'p', type: 'pv' }]);
    writeReservation(host, 1, { extents: [host.p2mOf(1)!.mfnOf(guestFrame(0x800))] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(1);
    writeReservation(host, 1, { extents: [0] });
    expect(memoryOp(host, 1, XENMEM.increase_reservation)).toBe(1);
    const mfn = vcpuOf(host, 1).guest.readU64(LIST);
    expect(host.memory.ownerOf(mfn as never)).toBe(1);
    expect(tot(1)).toBe(PAGES);
  });

  it('takes machine frames from a PV guest, as guest_remove_page does, and keeps the M2P in step', async () => {
    await boot([{ name: 'p', type: 'pv' }, { name: 'q', type: 'pv' }]);
    const pvMm = host.container.resolve(PvMm);
    const mfn = host.p2mOf(1)!.mfnOf(guestFrame(0x800));
    const foreign = host.p2mOf(2)!.mfnOf(guestFrame(0x800));
    pvMm.setM2p(1, machineFrame(mfn), 0x800);
    // A pfn is not a frame a PV guest may name (unless it happens to own that machine frame), nor is another domain's frame.
    writeReservation(host, 1, { extents: [foreign] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(0);
    expect(host.memory.ownerOf(machineFrame(foreign))).toBe(2);
    writeReservation(host, 1, { extents: [mfn] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(1);
    expect(mapped(1, 0x800)).toBe(false);
    expect(host.memory.ownerOf(machineFrame(mfn))).not.toBe(1);
    expect(pvMm.m2p(machineFrame(mfn))).toBe(-1);
    expect(tot(1)).toBe(PAGES - 1);
    // populate_physmap takes pfns from PV too, returns the MFN and records the pfn in the M2P.
    writeReservation(host, 1, { extents: [0x800] });
    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(1);
    const fresh = vcpuOf(host, 1).guest.readU64(LIST);
    expect(host.p2mOf(1)!.mfnOf(guestFrame(0x800))).toBe(fresh);
    expect(pvMm.m2p(machineFrame(fresh))).toBe(0x800);
    // An M2P entry the guest pointed elsewhere does not leave its P2M naming a freed frame.
    const other = host.p2mOf(1)!.mfnOf(guestFrame(0x801));
    pvMm.setM2p(1, machineFrame(other), 0x900);
    writeReservation(host, 1, { extents: [other] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(1);
    expect(mapped(1, 0x801)).toBe(false);
    expect(framesConserved(host)).toBe(true);
  });

  it('current_reservation, maximum_reservation and maximum_gpfn report tot_pages, max_pages and the highest mapped GFN', async () => {
    await boot();
    const g = vcpuOf(host, 1).guest;
    g.writeU16(ARG, DOMID_SELF);
    expect(memoryOp(host, 1, XENMEM.current_reservation)).toBe(PAGES);
    expect(memoryOp(host, 1, XENMEM.maximum_reservation)).toBe(PAGES);
    expect(memoryOp(host, 1, XENMEM.maximum_gpfn)).toBe(PAGES - 1);
    writeReservation(host, 1, { extents: [0x800] });
    memoryOp(host, 1, XENMEM.decrease_reservation);
    writeReservation(host, 1, { extents: [0x123456] });
    expect(memoryOp(host, 1, XENMEM.populate_physmap)).toBe(1);
    g.writeU16(ARG, 1);
    expect(memoryOp(host, 1, XENMEM.current_reservation)).toBe(PAGES);
    expect(memoryOp(host, 1, XENMEM.maximum_gpfn)).toBe(0x123456);
    expect(memoryOp(host, 1, XENMEM.maximum_ram_page)).toBe(host.memory.totalFrames);
    expect(memoryOp(host, 1, 63)).toBe(-XenErrno.ENOSYS);
  });
});

describe('memory_op security', () => {
  it('an unprivileged domain acting on another domain gets −EPERM and changes nothing', async () => {
    await boot([{ name: 'a' }, { name: 'b' }]);
    const before = [snapshot(host, 1), snapshot(host, 2), host.memory.freeFrames];
    const g = vcpuOf(host, 1).guest;
    for (const op of [XENMEM.decrease_reservation, XENMEM.populate_physmap, XENMEM.increase_reservation]) {
      writeReservation(host, 1, { extents: [0x800, 0x5000], domid: 2 });
      expect(memoryOp(host, 1, op)).toBe(-XenErrno.EPERM);
    }
    g.writeU16(ARG, 2);
    expect(memoryOp(host, 1, XENMEM.current_reservation)).toBe(-XenErrno.EPERM);
    expect(memoryOp(host, 1, XENMEM.maximum_gpfn)).toBe(-XenErrno.EPERM);
    for (const [space, idx] of [[XENMAPSPACE.shared_info, 0], [XENMAPSPACE.gmfn, 0x800], [XENMAPSPACE.grant_table, 0]] as const) {
      writeAddToPhysmap(host, 1, { domid: 2, space, idx, gpfn: 0x801 });
      expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(-XenErrno.EPERM);
    }
    writeRemoveFromPhysmap(host, 1, 2, 0x800);
    expect(memoryOp(host, 1, XENMEM.remove_from_physmap)).toBe(-XenErrno.EPERM);
    g.writeU16(ARG + XenForeignMemoryMap.domid, 2);
    g.writeU32(ARG + XenForeignMemoryMap.map + XenMemoryMap.nrEntries, 0);
    expect(memoryOp(host, 1, XENMEM.set_memory_map)).toBe(-XenErrno.EPERM);
    expect([snapshot(host, 1), snapshot(host, 2), host.memory.freeFrames]).toEqual(before);
  });

  it('naming a domain that does not exist is −ESRCH; Dom0 may act on any domain', async () => {
    await boot();
    writeReservation(host, 1, { extents: [0x800], domid: 77 });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(-XenErrno.ESRCH);
    writeReservation(host, 0, { extents: [0x800], domid: 1 });
    expect(memoryOp(host, 0, XENMEM.decrease_reservation)).toBe(1);
    expect(mapped(1, 0x800)).toBe(false);
  });
});

describe('memory_op physmap', () => {
  it('add_to_physmap(shared_info) maps the shared-info frame where the guest reads it; the RAM page it replaces goes back to the host', async () => {
    await boot();
    const shared = host.sharedInfoOf(1)!;
    shared.view.setUint32(3072, 0x1234, true);
    const free = host.memory.freeFrames;
    writeAddToPhysmap(host, 1, { space: XENMAPSPACE.shared_info, idx: 0, gpfn: 0x900 });
    expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(0);
    expect(vcpuOf(host, 1).guest.readU32(0x900 * 4096 + 3072)).toBe(0x1234);
    expect(tot(1)).toBe(PAGES - 1);
    expect(host.memory.freeFrames).toBe(free + 1);
    // Ballooning the shared-info gfn out unhooks it; the frame is not the reservation's to free.
    writeReservation(host, 1, { extents: [0x900] });
    expect(memoryOp(host, 1, XENMEM.decrease_reservation)).toBe(1);
    expect(host.memory.ownerOf(shared.mfn)).toBe(1);
    expect(host.memory.freeFrames).toBe(free + 1);
    writeAddToPhysmap(host, 1, { space: XENMAPSPACE.shared_info, idx: 1, gpfn: 0x900 });
    expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(-XenErrno.EINVAL);
  });

  it('add_to_physmap is for auto-translated guests: a PV domain gets −EACCES', async () => {
    await boot([{ name: 'p', type: 'pv' }]);
    writeAddToPhysmap(host, 1, { space: XENMAPSPACE.shared_info, idx: 0, gpfn: 0x900 });
    expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(-XenErrno.EACCES);
    expect(memoryOp(host, 1, XENMEM.add_to_physmap | (0x10000 << MEMOP_EXTENT_SHIFT))).toBe(-XenErrno.EDOM);
  });

  it('add_to_physmap(grant_table) maps the grant table frame the GrantTables API hands out', async () => {
    await boot();
    writeAddToPhysmap(host, 1, { space: XENMAPSPACE.grant_table, idx: 0, gpfn: 0x901 });
    expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(0);
    const frame = host.container.resolve(GrantTables).frameForPhysmap(domId(1), 0);
    expect(host.p2mOf(1)!.mfnOf(guestFrame(0x901))).toBe(frame);
    writeAddToPhysmap(host, 1, { space: XENMAPSPACE.grant_table, idx: XENMAPIDX_grant_table_status, gpfn: 0x902 });
    expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(-XenErrno.EINVAL);
    expect(framesConserved(host)).toBe(true);
  });

  it('gmfn moves a page; remove_from_physmap unmaps it without freeing it', async () => {
    await boot();
    const g = vcpuOf(host, 1).guest;
    g.writeU32(0x800 * 4096, 0xcafe);
    writeAddToPhysmap(host, 1, { space: XENMAPSPACE.gmfn, idx: 0x800, gpfn: 0x3000 });
    expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(0);
    expect(mapped(1, 0x800)).toBe(false);
    expect(g.readU32(0x3000 * 4096)).toBe(0xcafe);
    expect(tot(1)).toBe(PAGES);
    writeAddToPhysmap(host, 1, { space: XENMAPSPACE.gmfn_range, idx: 0x801, gpfn: 0x3001, size: 2 });
    expect(memoryOp(host, 1, XENMEM.add_to_physmap)).toBe(0);
    expect([0x801, 0x802, 0x3001, 0x3002].map((gfn) => mapped(1, gfn))).toEqual([false, false, true, true]);
    const free = host.memory.freeFrames;
    writeRemoveFromPhysmap(host, 1, DOMID_SELF, 0x3000);
    expect(memoryOp(host, 1, XENMEM.remove_from_physmap)).toBe(0);
    expect(mapped(1, 0x3000)).toBe(false);
    expect([tot(1), host.memory.freeFrames]).toEqual([PAGES, free]);
    expect(memoryOp(host, 1, XENMEM.remove_from_physmap)).toBe(-XenErrno.ENOENT);
  });
});

describe('memory_op memory maps', () => {
  const readEntries = (domid: number, n: number): { addr: bigint; size: bigint; type: number }[] => {
    const g = vcpuOf(host, domid).guest;
    return Array.from({ length: n }, (_, i) => ({
      addr: g.readU64Big(LIST + i * E820Entry.size + E820Entry.addr),
      size: g.readU64Big(LIST + i * E820Entry.size + E820Entry.length),
      type: g.readU32(LIST + i * E820Entry.size + E820Entry.type),
    }));
  };
  const askMap = (domid: number, nr: number, buffer = LIST): void => {
    const g = vcpuOf(host, domid).guest;
    g.writeU32(ARG + XenMemoryMap.nrEntries, nr);
    g.writeU64(ARG + XenMemoryMap.buffer, buffer);
  };

  it('memory_map defaults to one RAM entry over the reservation, and returns what Dom0 set with set_memory_map', async () => {
    await boot();
    askMap(1, 4);
    expect(memoryOp(host, 1, XENMEM.memory_map)).toBe(0);
    expect(vcpuOf(host, 1).guest.readU32(ARG)).toBe(1);
    expect(readEntries(1, 1)).toEqual([{ addr: 0n, size: BigInt(PAGES * 4096), type: E820.RAM }]);

    const d0 = vcpuOf(host, 0).guest;
    const want = [
      { addr: 0n, size: 0x9fc00n, type: E820.RAM },
      { addr: 0x100000n, size: 0xf00000n, type: E820.RAM },
    ];
    want.forEach((e, i) => {
      d0.writeU64Big(LIST + i * 20, e.addr);
      d0.writeU64Big(LIST + i * 20 + 8, e.size);
      d0.writeU32(LIST + i * 20 + 16, e.type);
    });
    d0.writeU16(ARG + XenForeignMemoryMap.domid, 1);
    d0.writeU32(ARG + XenForeignMemoryMap.map + XenMemoryMap.nrEntries, 2);
    d0.writeU64(ARG + XenForeignMemoryMap.map + XenMemoryMap.buffer, LIST);
    expect(memoryOp(host, 0, XENMEM.set_memory_map)).toBe(0);
    askMap(1, 4);
    expect(memoryOp(host, 1, XENMEM.memory_map)).toBe(0);
    expect(vcpuOf(host, 1).guest.readU32(ARG)).toBe(2);
    expect(readEntries(1, 2)).toEqual(want);
    askMap(1, 1);
    expect(memoryOp(host, 1, XENMEM.memory_map)).toBe(0);
    expect(vcpuOf(host, 1).guest.readU32(ARG)).toBe(1);
  });

  it('machine_memory_map is Dom0-only and needs room for one entry more than the map', async () => {
    await boot();
    askMap(1, 8);
    expect(memoryOp(host, 1, XENMEM.machine_memory_map)).toBe(-XenErrno.EPERM);
    askMap(0, 1);
    expect(memoryOp(host, 0, XENMEM.machine_memory_map)).toBe(-XenErrno.EINVAL);
    askMap(0, 0, 0);
    expect(memoryOp(host, 0, XENMEM.machine_memory_map)).toBe(0);
    expect(vcpuOf(host, 0).guest.readU32(ARG)).toBe(1);
    askMap(0, 2);
    expect(memoryOp(host, 0, XENMEM.machine_memory_map)).toBe(0);
    expect(readEntries(0, 1)).toEqual([{ addr: 0n, size: BigInt(host.memory.totalFrames * 4096), type: E820.RAM }]);
  });
});

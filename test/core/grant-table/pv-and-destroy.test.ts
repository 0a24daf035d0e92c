import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { GNTMAP, GNTST, GTF } from '../../../core/public/grant-table.js';
import { X86_CR0_PG, X86_CR0_WP } from '../../../core/public/paging.js';
import { domId, grantRef, guestFrame } from '../../../core/public/types.js';
import { PageTableBuilder, machineTableSpace } from '../../../core/mmu/page-table-builder.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { OPS, grantTables, guestGrant, mapGrant, mapOwnTable, mfnOfGfn, unmapGrant } from './helpers.js';

let host: Host;
/** Dom0 (PV) maps grants at this virtual address; the L1 table covering it exists. */
const VA = 0x4000_1000;

beforeEach(async () => {
  ({ host } = await bootTestHost({ guests: [{ name: 'front' }, { name: 'back', type: 'hvm' }] }));
  mapOwnTable(host, 1);
  vcpuOf(host, 1).guest.write(0x100 * 4096, new TextEncoder().encode('pv sees this'));
});
afterEach(async () => {
  await host?.shutdown();
});

/** Gives Dom0 page tables: its op page at VA OPS, and a present L1 table around VA. */
function dom0PageTables(): PageTableBuilder {
  const tables = new PageTableBuilder(machineTableSpace(host.memory, domId(0)));
  tables.map(OPS, mfnOfGfn(host, 0, 1) * 4096);
  tables.map(VA - 4096, mfnOfGfn(host, 0, 2) * 4096);
  const regs = vcpuOf(host, 0).context;
  regs.cr3 = tables.root;
  regs.cr0 = (regs.cr0 | X86_CR0_PG | X86_CR0_WP) >>> 0;
  return tables;
}

describe('grant mappings of a PV mapper', () => {
  it('writes the L1 PTE of host_addr in the caller page tables, and unmap restores it', () => {
    const tables = dom0PageTables();
    guestGrant(host, 1, 8, 0, 0x100);
    const g = vcpuOf(host, 0).guest;
    expect(() => g.readU32(VA)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    const r = mapGrant(host, 0, { hostAddr: VA, flags: GNTMAP.host_map | GNTMAP.device_map, ref: 8, dom: 1 });
    expect(r.status).toBe(GNTST.okay);
    const mfn = mfnOfGfn(host, 1, 0x100);
    expect(r.devBusAddr).toBe(mfn * 4096);
    const [lo, hi] = tables.entry(VA, 1)!;
    expect(Math.floor(lo / 4096)).toBe(mfn);
    expect(lo & 3).toBe(3); // present, writable
    expect(hi >>> 31).toBe((vcpuOf(host, 0).context.efer >>> 11) & 1); // NX with EFER.NXE
    expect(new TextDecoder().decode(g.read(VA, 12))).toBe('pv sees this');
    expect(unmapGrant(host, 0, VA, r.handle, mfn * 4096)).toBe(GNTST.okay);
    expect(tables.entry(VA, 1)).toEqual([0, 0]);
    expect(() => g.readU32(VA)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(grantTables(host).entry(domId(1), grantRef(8))!.flags).toBe(GTF.permit_access);
  });

  it('a read-only PV mapping has a read-only PTE', () => {
    const tables = dom0PageTables();
    guestGrant(host, 1, 8, 0, 0x100, GTF.permit_access | GTF.readonly);
    const r = mapGrant(host, 0, { hostAddr: VA, flags: GNTMAP.host_map | GNTMAP.readonly, ref: 8, dom: 1 });
    expect(r.status).toBe(GNTST.okay);
    expect(tables.entry(VA, 1)![0] & 2).toBe(0);
    expect(() => vcpuOf(host, 0).guest.writeU32(VA, 1)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
  });

  it('GNTMAP_contains_pte writes the PTE at a machine address the mapper owns, and refuses one it does not', () => {
    const tables = dom0PageTables();
    guestGrant(host, 1, 8, 0, 0x100);
    const l2 = tables.entry(VA, 2)!;
    const l1Table = Math.floor(l2[0] / 4096) * 4096;
    const pteAddr = l1Table + ((VA / 4096) % 512) * 8;
    const notMine = mfnOfGfn(host, 2, 0x10) * 4096;
    expect(mapGrant(host, 0, { hostAddr: notMine, flags: GNTMAP.host_map | GNTMAP.contains_pte, ref: 8, dom: 1 }).status).toBe(GNTST.general_error);
    expect(mapGrant(host, 0, { hostAddr: pteAddr + 4, flags: GNTMAP.host_map | GNTMAP.contains_pte, ref: 8, dom: 1 }).status).toBe(GNTST.general_error);
    const r = mapGrant(host, 0, { hostAddr: pteAddr, flags: GNTMAP.host_map | GNTMAP.contains_pte, ref: 8, dom: 1 });
    expect(r.status).toBe(GNTST.okay);
    expect(Math.floor(tables.entry(VA, 1)![0] / 4096)).toBe(mfnOfGfn(host, 1, 0x100));
    expect(unmapGrant(host, 0, pteAddr, r.handle)).toBe(GNTST.okay);
    expect(tables.entry(VA, 1)).toEqual([0, 0]);
  });

  it('refuses a VA without an L1 table (general_error) and a non-canonical VA (bad_virt_addr)', () => {
    dom0PageTables();
    guestGrant(host, 1, 8, 0, 0x100);
    expect(mapGrant(host, 0, { hostAddr: 0x7f00_0000_0000, flags: GNTMAP.host_map, ref: 8, dom: 1 }).status).toBe(GNTST.general_error);
    expect(mapGrant(host, 0, { hostAddr: 2 ** 47, flags: GNTMAP.host_map, ref: 8, dom: 1 }).status).toBe(GNTST.bad_virt_addr);
    expect(grantTables(host).entry(domId(1), grantRef(8))!.flags).toBe(GTF.permit_access);
  });

  it('a PV granter grants MFNs: a frame it does not own is GNTST_bad_page', () => {
    const g0 = grantTables(host);
    g0.grantAccess(domId(0), grantRef(8), domId(2), mfnOfGfn(host, 0, 3), false);
    g0.grantAccess(domId(0), grantRef(9), domId(2), mfnOfGfn(host, 1, 0x100), false);
    expect(mapGrant(host, 2, { hostAddr: 0x3000_000, flags: GNTMAP.host_map, ref: 8, dom: 0 }).status).toBe(GNTST.okay);
    expect(mapGrant(host, 2, { hostAddr: 0x3001_000, flags: GNTMAP.host_map, ref: 9, dom: 0 }).status).toBe(GNTST.bad_page);
  });
});

describe('domain destruction', () => {
  it('unmaps what the dying domain holds, restoring its P2M and dropping the granter flags', () => {
    guestGrant(host, 1, 8, 2, 0x100);
    expect(mapGrant(host, 2, { hostAddr: 0x200 * 4096, flags: GNTMAP.host_map, ref: 8, dom: 1 }).status).toBe(GNTST.okay);
    host.domains.destroy(2);
    expect(grantTables(host).entry(domId(1), grantRef(8))!.flags).toBe(GTF.permit_access);
    expect(grantTables(host).activeMappings(domId(1))).toEqual([]);
  });

  it('revokes mappings others hold of the dying domain frames: their P2M entry and PTE go, accesses fault, unmap still succeeds', () => {
    const tables = dom0PageTables();
    guestGrant(host, 1, 8, 2, 0x100);
    guestGrant(host, 1, 9, 0, 0x100);
    const own = 0x200 * 4096;
    const ownPage = host.p2mOf(2)!.lookup(guestFrame(0x200));
    const hvm = mapGrant(host, 2, { hostAddr: own, flags: GNTMAP.host_map, ref: 8, dom: 1 });
    const pv = mapGrant(host, 0, { hostAddr: VA, flags: GNTMAP.host_map, ref: 9, dom: 1 });
    expect([hvm.status, pv.status]).toEqual([GNTST.okay, GNTST.okay]);
    const granterFrame = mfnOfGfn(host, 1, 0x100);

    host.domains.destroy(1);
    expect(host.p2mOf(2)!.lookup(guestFrame(0x200))).toBeUndefined();
    expect(() => vcpuOf(host, 2).guest.readU32(own)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(tables.entry(VA, 1)).toEqual([0, 0]);
    expect(() => vcpuOf(host, 0).guest.readU32(VA)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(host.memory.ownerOf(granterFrame)).toBeUndefined();
    const left = grantTables(host).activeMappings(domId(2));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ revoked: true, mfn: -1 });

    expect(unmapGrant(host, 2, own, hvm.handle)).toBe(GNTST.okay);
    expect(host.p2mOf(2)!.lookup(guestFrame(0x200))).toEqual(ownPage);
    expect(unmapGrant(host, 0, VA, pv.handle)).toBe(GNTST.okay);
    expect(grantTables(host).activeMappings(domId(0))).toEqual([]);
    expect(grantTables(host).activeMappings(domId(2))).toEqual([]);
  });
});

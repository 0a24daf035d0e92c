import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { P2mType } from '../../../core/api/memory.js';
import { GNTMAP, GNTST, GTF } from '../../../core/public/grant-table.js';
import { domId, grantRef, guestFrame } from '../../../core/public/types.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { grantTables, guestGrant, mapGrant, mapOwnTable, mfnOfGfn, unmapGrant } from './helpers.js';

let host: Host;
const GRANTER = 1;
const MAPPER = 2;
const SHARED_GFN = 0x100;
/** An unpopulated gfn of the mapper, above its 16 MiB. */
const HOLE = 0x3000 * 4096;

beforeEach(async () => {
  ({ host } = await bootTestHost({ guests: [{ name: 'front' }, { name: 'back', type: 'hvm' }] }));
  mapOwnTable(host, GRANTER);
  vcpuOf(host, GRANTER).guest.write(SHARED_GFN * 4096, new TextEncoder().encode('hello from dom1'));
});
afterEach(async () => {
  await host?.shutdown();
});

describe('GNTTABOP_map_grant_ref / unmap_grant_ref for an auto-translated mapper', () => {
  it('maps the granter frame into the mapper P2M as grant_map_rw, so reads and writes hit the granter page', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    const r = mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER });
    expect(r.status).toBe(GNTST.okay);
    expect(r.devBusAddr).toBe(0);
    const p2m = host.p2mOf(MAPPER)!;
    expect(p2m.lookup(guestFrame(HOLE / 4096))).toMatchObject({ mfn: mfnOfGfn(host, GRANTER, SHARED_GFN), type: P2mType.grant_map_rw });
    const mapper = vcpuOf(host, MAPPER).guest;
    expect(new TextDecoder().decode(mapper.read(HOLE, 15))).toBe('hello from dom1');
    mapper.writeU32(HOLE + 64, 0xcafe);
    expect(vcpuOf(host, GRANTER).guest.readU32(SHARED_GFN * 4096 + 64)).toBe(0xcafe);
    expect(grantTables(host).entry(domId(GRANTER), grantRef(8))!.flags).toBe(GTF.permit_access | GTF.reading | GTF.writing);
    expect(grantTables(host).activeMappings(domId(MAPPER))).toHaveLength(1);

    expect(unmapGrant(host, MAPPER, HOLE, r.handle)).toBe(GNTST.okay);
    expect(p2m.lookup(guestFrame(HOLE / 4096))).toBeUndefined();
    expect(grantTables(host).entry(domId(GRANTER), grantRef(8))!.flags).toBe(GTF.permit_access);
    expect(() => mapper.readU32(HOLE)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(grantTables(host).activeMappings(domId(MAPPER))).toHaveLength(0);
  });

  it('a read-only map is grant_map_ro: the mapper reads the page but its writes fault', () => {
    guestGrant(host, GRANTER, 9, MAPPER, SHARED_GFN, GTF.permit_access | GTF.readonly);
    const r = mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map | GNTMAP.readonly, ref: 9, dom: GRANTER });
    expect(r.status).toBe(GNTST.okay);
    expect(host.p2mOf(MAPPER)!.typeOf(guestFrame(HOLE / 4096))).toBe(P2mType.grant_map_ro);
    const mapper = vcpuOf(host, MAPPER).guest;
    expect(new TextDecoder().decode(mapper.read(HOLE, 5))).toBe('hello');
    expect(() => mapper.writeU32(HOLE, 1)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(grantTables(host).entry(domId(GRANTER), grantRef(9))!.flags).toBe(GTF.permit_access | GTF.readonly | GTF.reading);
  });

  it('mapping over a populated gfn replaces it and unmap restores the mapper own page', () => {
    const own = 0x200 * 4096;
    vcpuOf(host, MAPPER).guest.writeU32(own, 0x1234);
    const before = host.p2mOf(MAPPER)!.lookup(guestFrame(0x200));
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    const r = mapGrant(host, MAPPER, { hostAddr: own, flags: GNTMAP.host_map, ref: 8, dom: GRANTER });
    expect(r.status).toBe(GNTST.okay);
    expect(vcpuOf(host, MAPPER).guest.readU8(own)).toBe('h'.charCodeAt(0));
    expect(unmapGrant(host, MAPPER, own, r.handle)).toBe(GNTST.okay);
    expect(host.p2mOf(MAPPER)!.lookup(guestFrame(0x200))).toEqual(before);
    expect(vcpuOf(host, MAPPER).guest.readU32(own)).toBe(0x1234);
  });

  it('keeps GTF_reading/GTF_writing until the last of several mappings goes, and hands out distinct handles', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    const a = mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER });
    const b = mapGrant(host, MAPPER, { hostAddr: HOLE + 4096, flags: GNTMAP.host_map | GNTMAP.readonly, ref: 8, dom: GRANTER });
    expect([a.status, b.status]).toEqual([GNTST.okay, GNTST.okay]);
    expect(a.handle).not.toBe(b.handle);
    const flags = () => grantTables(host).entry(domId(GRANTER), grantRef(8))!.flags;
    expect(unmapGrant(host, MAPPER, HOLE, a.handle)).toBe(GNTST.okay);
    expect(flags()).toBe(GTF.permit_access | GTF.reading);
    expect(unmapGrant(host, MAPPER, HOLE + 4096, b.handle)).toBe(GNTST.okay);
    expect(flags()).toBe(GTF.permit_access);
  });

  it('uses the frame the entry had when first pinned, whatever the granter writes into it afterwards', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    const a = mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER });
    guestGrant(host, GRANTER, 8, MAPPER, 0x101, GTF.permit_access | GTF.reading | GTF.writing);
    const b = mapGrant(host, MAPPER, { hostAddr: HOLE + 4096, flags: GNTMAP.host_map, ref: 8, dom: GRANTER });
    expect(b.status).toBe(GNTST.okay);
    expect(host.p2mOf(MAPPER)!.mfnOf(guestFrame(HOLE / 4096 + 1))).toBe(mfnOfGfn(host, GRANTER, SHARED_GFN));
    expect(unmapGrant(host, MAPPER, HOLE, a.handle)).toBe(GNTST.okay);
  });

  it('refuses device and PTE mappings from an auto-translated mapper, and ops without a mapping kind', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    expect(mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map | GNTMAP.device_map, ref: 8, dom: GRANTER }).status).toBe(GNTST.general_error);
    expect(mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map | GNTMAP.contains_pte, ref: 8, dom: GRANTER }).status).toBe(GNTST.general_error);
    expect(mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.readonly, ref: 8, dom: GRANTER }).status).toBe(GNTST.bad_gntref);
    expect(mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: 77 }).status).toBe(GNTST.bad_domain);
  });

  it('refuses to map over another grant mapping at the same gfn', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    expect(mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status).toBe(GNTST.okay);
    expect(mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status).toBe(GNTST.general_error);
  });

  it('runs out of maptrack handles at the per-mapper limit (GNTST_no_space)', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    grantTables(host).setMaxMaptrackFrames(domId(MAPPER), 1);
    for (let i = 0; i < 256; i++) expect(mapGrant(host, MAPPER, { hostAddr: HOLE + i * 4096, flags: GNTMAP.host_map | GNTMAP.readonly, ref: 8, dom: GRANTER }).status).toBe(GNTST.okay);
    expect(mapGrant(host, MAPPER, { hostAddr: HOLE + 256 * 4096, flags: GNTMAP.host_map | GNTMAP.readonly, ref: 8, dom: GRANTER }).status).toBe(GNTST.no_space);
  });

  it('unmap checks the host address and refuses a stale one with GNTST_general_error, leaving the mapping', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    const r = mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER });
    expect(unmapGrant(host, MAPPER, HOLE + 4096, r.handle)).toBe(GNTST.general_error);
    expect(grantTables(host).activeMappings(domId(MAPPER))).toHaveLength(1);
    expect(unmapGrant(host, MAPPER, HOLE, r.handle)).toBe(GNTST.okay);
    expect(unmapGrant(host, MAPPER, HOLE, r.handle)).toBe(GNTST.bad_handle);
  });
});

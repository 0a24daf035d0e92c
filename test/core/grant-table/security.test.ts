import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { P2mType } from '../../../core/api/memory.js';
import { GNTCOPY, GNTMAP, GNTST, GTF } from '../../../core/public/grant-table.js';
import { DOMID_SELF } from '../../../core/public/xen.js';
import { domId, grantRef, guestFrame } from '../../../core/public/types.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { copyGrant, grantTables, guestGrant, mapGrant, mapOwnTable, mfnOfGfn, snapshot, unmapGrant } from './helpers.js';

let host: Host;
const GRANTER = 1;
const MAPPER = 2;
const OTHER = 3;
const SHARED_GFN = 0x100;
const HOLE = 0x3000 * 4096;

beforeEach(async () => {
  ({ host } = await bootTestHost({ guests: [{ name: 'front' }, { name: 'back', type: 'hvm' }, { name: 'third' }] }));
  mapOwnTable(host, GRANTER);
  vcpuOf(host, GRANTER).guest.write(SHARED_GFN * 4096, new TextEncoder().encode('secret'));
});
afterEach(async () => {
  await host?.shutdown();
});

/** Runs `refuse`, expects `status`, and checks the entry, both P2Ms and both domains' memory are as before. */
function refused(ref: number, status: number, refuse: () => number): void {
  const before = snapshot(host, GRANTER, ref, MAPPER);
  expect(refuse()).toBe(status);
  expect(snapshot(host, GRANTER, ref, MAPPER)).toBe(before);
  expect(grantTables(host).activeMappings(domId(GRANTER))).toEqual([]);
}

describe('grant-table refusals leave every entry, P2M and page as it was', () => {
  it('a grant reference beyond the table: GNTST_bad_gntref (map and copy)', () => {
    const beyond = grantTables(host).nrFrames(domId(GRANTER)) * 512;
    refused(8, GNTST.bad_gntref, () => mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: beyond, dom: GRANTER }).status);
    refused(8, GNTST.bad_gntref, () => copyGrant(host, MAPPER, { source: { u: beyond, domid: GRANTER, offset: 0 }, dest: { u: 0x200, domid: DOMID_SELF, offset: 0 }, len: 8, flags: GNTCOPY.source_gref }));
  });

  it('a grant made to a different domain: GNTST_general_error, as Xen (map and copy)', () => {
    guestGrant(host, GRANTER, 8, OTHER, SHARED_GFN);
    refused(8, GNTST.general_error, () => mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status);
    refused(8, GNTST.general_error, () => copyGrant(host, MAPPER, { source: { u: 8, domid: GRANTER, offset: 0 }, dest: { u: 0x200, domid: DOMID_SELF, offset: 0 }, len: 8, flags: GNTCOPY.source_gref }));
  });

  it('an entry that is not GTF_permit_access (invalid, accept_transfer, sub-page) cannot be mapped', () => {
    for (const flags of [GTF.invalid, GTF.accept_transfer, GTF.permit_access | GTF.sub_page]) {
      guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN, flags);
      refused(8, GNTST.general_error, () => mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status);
    }
  });

  it('a writable map of a read-only grant: GNTST_permission_denied', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN, GTF.permit_access | GTF.readonly);
    refused(8, GNTST.permission_denied, () => mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status);
  });

  it('a copy into a read-only grant: GNTST_permission_denied, the granter page untouched', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN, GTF.permit_access | GTF.readonly);
    vcpuOf(host, MAPPER).guest.writeU32(0x200 * 4096, 0xbad);
    refused(8, GNTST.permission_denied, () => copyGrant(host, MAPPER, { source: { u: 0x200, domid: DOMID_SELF, offset: 0 }, dest: { u: 8, domid: GRANTER, offset: 0 }, len: 4, flags: GNTCOPY.dest_gref }));
    expect(new TextDecoder().decode(vcpuOf(host, GRANTER).guest.read(SHARED_GFN * 4096, 6))).toBe('secret');
  });

  it('an entry naming a frame the granter does not own: GNTST_bad_page', () => {
    // The granter's gfn 0x2100 holds a grant mapping of dom3's page: not the granter's RAM.
    grantTables(host).grantAccess(domId(OTHER), grantRef(8), domId(GRANTER), 0x100, false);
    host.p2mOf(GRANTER)!.set(guestFrame(0x2100), mfnOfGfn(host, OTHER, 0x100), P2mType.grant_map_rw);
    guestGrant(host, GRANTER, 8, MAPPER, 0x2100);
    refused(8, GNTST.bad_page, () => mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status);
    // An unpopulated gfn is no frame at all.
    guestGrant(host, GRANTER, 8, MAPPER, 0xfffff);
    refused(8, GNTST.bad_page, () => mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status);
  });

  it('an unmap with a bad handle: GNTST_bad_handle', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    const r = mapGrant(host, MAPPER, { hostAddr: HOLE, flags: GNTMAP.host_map, ref: 8, dom: GRANTER });
    const before = snapshot(host, GRANTER, 8, MAPPER);
    for (const handle of [r.handle + 1, 0xffffffff, 1000]) expect(unmapGrant(host, MAPPER, HOLE, handle)).toBe(GNTST.bad_handle);
    // Another domain cannot unmap the mapper's handle either: handles are per mapper.
    expect(unmapGrant(host, OTHER, HOLE, r.handle)).toBe(GNTST.bad_handle);
    expect(snapshot(host, GRANTER, 8, MAPPER)).toBe(before);
    expect(grantTables(host).entry(domId(GRANTER), grantRef(8))!.flags).toBe(GTF.permit_access | GTF.reading | GTF.writing);
  });

  it('a host_addr outside the mapper guest-physical space: GNTST_bad_virt_addr', () => {
    guestGrant(host, GRANTER, 8, MAPPER, SHARED_GFN);
    for (const hostAddr of [2 ** 48, 2 ** 52, -4096]) {
      refused(8, GNTST.bad_virt_addr, () => mapGrant(host, MAPPER, { hostAddr, flags: GNTMAP.host_map, ref: 8, dom: GRANTER }).status);
    }
  });

  it('a copy naming a frame by gmfn in another domain: GNTST_permission_denied (only DOMID_SELF may)', () => {
    refused(8, GNTST.permission_denied, () => copyGrant(host, MAPPER, { source: { u: SHARED_GFN, domid: GRANTER, offset: 0 }, dest: { u: 0x200, domid: DOMID_SELF, offset: 0 }, len: 6, flags: 0 }));
  });
});

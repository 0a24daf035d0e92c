/** Grant-table benchmarks: map + unmap and 4 KiB copies through the real dispatcher from a PVH guest. */
import { GrantTables } from '../../core/api/grant-table.js';
import { P2mType } from '../../core/api/memory.js';
import type { Host } from '../../core/host/host.js';
import { GNTCOPY, GNTMAP, GNTST, GNTTABOP, GnttabCopy, GnttabMapGrantRef, GnttabUnmapGrantRef } from '../../core/public/grant-table.js';
import { DOMID_SELF, Hypercall } from '../../core/public/xen.js';
import { domId, grantRef, guestFrame } from '../../core/public/types.js';
import { bootTestHost, vcpuOf } from '../hypervisor/harness.js';
import { type Benchmark, opsPerSecond } from './harness.js';

const BACKEND = 1;
const FRONTEND = 2;
const OPS = 0x1000;
const HOLE = 0x3000 * 4096;

async function setUp(): Promise<Host> {
  const { host } = await bootTestHost({ guests: [{ name: 'back' }, { name: 'front' }] });
  const gt = host.container.resolve(GrantTables);
  gt.grantAccess(domId(FRONTEND), grantRef(8), domId(BACKEND), 0x100, false);
  // Keep the frontend's table frame mapped, as a guest would after add_to_physmap.
  host.p2mOf(FRONTEND)!.set(guestFrame(0x2000), gt.frameForPhysmap(domId(FRONTEND), 0), P2mType.ram_rw);
  return host;
}

async function mapUnmapPerSecond(): Promise<number> {
  const host = await setUp();
  const v = vcpuOf(host, BACKEND);
  const g = v.guest;
  const unmap = OPS + 64;
  g.writeU64(OPS + GnttabMapGrantRef.hostAddr, HOLE);
  g.writeU32(OPS + GnttabMapGrantRef.flags, GNTMAP.host_map);
  g.writeU32(OPS + GnttabMapGrantRef.ref, 8);
  g.writeU16(OPS + GnttabMapGrantRef.dom, FRONTEND);
  const mapArgs = [GNTTABOP.map_grant_ref, OPS, 1];
  const unmapArgs = [GNTTABOP.unmap_grant_ref, unmap, 1];
  host.dispatcher.dispatch(v, Hypercall.grant_table_op, mapArgs);
  g.writeU64(unmap + GnttabUnmapGrantRef.hostAddr, HOLE);
  g.writeU32(unmap + GnttabUnmapGrantRef.handle, g.readU32(OPS + GnttabMapGrantRef.handle));
  host.dispatcher.dispatch(v, Hypercall.grant_table_op, unmapArgs);
  const ops = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) {
      host.dispatcher.dispatch(v, Hypercall.grant_table_op, mapArgs);
      host.dispatcher.dispatch(v, Hypercall.grant_table_op, unmapArgs);
    }
  });
  const ok = g.readU16(OPS + GnttabMapGrantRef.status) === GNTST.okay && g.readU16(unmap + GnttabUnmapGrantRef.status) === GNTST.okay;
  const leaks = host.container.resolve(GrantTables).activeMappings(domId(BACKEND)).length;
  await host.shutdown();
  if (!ok || leaks !== 0) throw new Error(`map/unmap failed (ok ${ok}, ${leaks} mappings left)`);
  return ops;
}

async function copiesPerSecond(): Promise<number> {
  const host = await setUp();
  const v = vcpuOf(host, BACKEND);
  const g = v.guest;
  g.writeU32(OPS + GnttabCopy.sourceU, 8);
  g.writeU16(OPS + GnttabCopy.sourceDomid, FRONTEND);
  g.writeU64(OPS + GnttabCopy.destU, 0x200);
  g.writeU16(OPS + GnttabCopy.destDomid, DOMID_SELF);
  g.writeU16(OPS + GnttabCopy.len, 4096);
  g.writeU16(OPS + GnttabCopy.flags, GNTCOPY.source_gref);
  const args = [GNTTABOP.copy, OPS, 1];
  const ops = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) host.dispatcher.dispatch(v, Hypercall.grant_table_op, args);
  });
  const ok = g.readU16(OPS + GnttabCopy.status) === GNTST.okay;
  await host.shutdown();
  if (!ok) throw new Error('copy failed');
  return ops;
}

export const benchmarks: Benchmark[] = [
  {
    group: 'grant',
    name: 'grant map + unmap (PVH backend, 1 op per hypercall)',
    unit: 'M/s',
    target: { min: 1 },
    run: async () => {
      await mapUnmapPerSecond();
      return { value: (await mapUnmapPerSecond()) / 1e6, detail: 'pairs of map_grant_ref + unmap_grant_ref through the dispatcher, after a warm-up' };
    },
  },
  {
    group: 'grant',
    name: 'grant copy of 4 KiB (PVH backend, 1 op per hypercall)',
    unit: 'M/s',
    target: { min: 1 },
    run: async () => {
      await copiesPerSecond();
      const ops = await copiesPerSecond();
      return { value: ops / 1e6, detail: `${((ops * 4096) / 1e9).toFixed(2)} GB/s` };
    },
  },
];

import { GrantTables } from '../../core/api/index.js';
import { describe, expect, it } from 'vitest';
import { TraceKind } from '../../core/engine/index.js';
import { DOMID_XEN } from '../../core/public/index.js';
import { domId } from '../../core/public/types.js';
import { bootHost, loadDefinition } from './machine.js';
import { Consoles } from '../../core/api/console.js';

async function runDefault(ms: number, seed?: number) {
  const { host } = await bootHost(await loadDefinition(), seed !== undefined ? { seed } : {});
  host.runFor(ms * 1e6);
  const result = { hash: host.engine.trace.hash, records: host.engine.trace.count(), host };
  return result;
}

describe('the default machine', () => {
  it('boots Dom0 and its guests through the toolstack, and each guest kernel reaches its shell', async () => {
    const { host } = await runDefault(200);
    try {
      expect(host.domains.list().map((d) => [d.domid, d.name, d.mode])).toEqual([
        [0, 'Domain-0', 'pv'],
        [1, 'pv-guest', 'pv'],
        [2, 'pvh-guest', 'pvh'],
        [3, 'hvm-guest', 'pvhvm'],
        [4, 'hvm-plain', 'hvm'],
      ]);
      expect(host.domains.get(0)!.privileged).toBe(true);
      expect(host.bootJobs.map((j) => j.state)).toEqual(['done', 'done', 'done', 'done']);
      const consoles = host.plugins.resolveAll(Consoles)[0]!;
      for (const domid of [1, 2, 3, 4]) expect(consoles.log(domid), `dom${domid}`).toMatch(/^# /m);
      expect(consoles.log(1)).toContain('XEN: PV guest');
      expect(consoles.log(2)).toContain('XEN: PVH guest');
      expect(consoles.log(3)).toContain('XEN: PVHVM guest');
      expect(consoles.log(4)).toContain('XEN: HVM guest');
      expect(host.engine.trace.count(TraceKind.Hypercall)).toBeGreaterThan(100);
      // Dom0 did the building (its vCPUs ran); the guests booted on theirs.
      for (const d of host.domains.list()) expect(d.vcpus[0]!.runstateInfo().time.running, d.name).toBeGreaterThan(0);
      // pv-guest: vcpus 2 of maxvcpus 4: the SMP kernel brings up the AP xenstore marks online; 256 MiB of maxmem 512 (+ libxl's 1 MiB slack).
      const pv = host.domains.get(1)!;
      expect(pv.vcpus.map((v) => v.isUp)).toEqual([true, true, false, false]);
      expect(pv.totPages).toBe(256 * 256);
      expect(pv.maxPages).toBe(512 * 256 + 256);
    } finally {
      await host.shutdown();
    }
  });

  it('gives the same trace hash for the same seed', async () => {
    const a = await runDefault(150);
    const b = await runDefault(150);
    await Promise.all([a, b].map((r) => r.host.shutdown()));
    expect(a.hash).toBe(b.hash);
    expect(a.records).toBe(b.records);
  });

  it("maps each guest's memory in a real P2M and gives every frame back when guests are destroyed", async () => {
    const { host } = await bootHost(await loadDefinition());
    try {
      host.settleBoot();
      const pvh = host.domains.get(2)!;
      const p2m = host.p2mOf(2)!;
      // The kernel mapped its shared-info page over RAM frame 3 (add_to_physmap): that RAM frame went back,
      // and the shared-info frame is the hypervisor's, outside tot_pages, as in Xen; so are the grant-table
      // frames its split drivers mapped the same way.
      const grantFrames = host.container.resolve(GrantTables).nrFrames(domId(2));
      expect(grantFrames).toBe(4);
      expect(p2m.entryCount).toBe(pvh.totPages + 1 + grantFrames);
      expect(host.memory.ownerOf(p2m.mfnOf(0 as never) as never)).toBe(2);
      host.runFor(50e6);
      // Measured once the guests' drivers are up (their grant tables grow as blkfront and netfront grant pages).
      const free0 = host.memory.freeFrames;
      const xen0 = host.memory.framesOf(domId(DOMID_XEN));
      // A guest owns its reservation plus xenheap-like pages outside tot_pages (shared info, grant table frames), as in Xen.
      const guests = host.domains.list().slice(1);
      for (const d of guests) expect(host.memory.framesOf(d.domid)).toBeGreaterThan(d.totPages);
      const guestFrames = guests.reduce((s, d) => s + host.memory.framesOf(d.domid), 0);
      for (const d of host.domains.list().slice(1)) host.domains.destroy(d.domid);
      expect(host.domains.size).toBe(1);
      for (const d of guests) expect(host.memory.framesOf(d.domid)).toBe(0);
      const xenFreed = xen0 - host.memory.framesOf(domId(DOMID_XEN));
      expect(xenFreed).toBeGreaterThan(0);
      expect(host.memory.freeFrames).toBe(free0 + guestFrames + xenFreed);
      // What is left with the hypervisor is Dom0's P2M only.
      expect(host.memory.framesOf(domId(DOMID_XEN))).toBe(host.p2mOf(0)!.tableFrameCount);
    } finally {
      await host.shutdown();
    }
  });

  it('runs the same events paced to the wall clock as it does as fast as possible', async () => {
    const fast = await runDefault(30);
    const { host } = await bootHost(await loadDefinition());
    try {
      await host.runRealtime(30e6, { speed: 20 });
      expect(host.engine.now).toBe(30e6);
      expect(host.engine.trace.hash).toBe(fast.hash);
    } finally {
      await Promise.all([host.shutdown(), fast.host.shutdown()]);
    }
  });
});

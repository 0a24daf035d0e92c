import { describe, expect, it } from 'vitest';
import { TraceKind } from '../../core/engine/index.js';
import { DOMID_XEN } from '../../core/public/index.js';
import { domId } from '../../core/public/types.js';
import { bootHost, loadDefinition } from './machine.js';

async function runDefault(ms: number, seed?: number) {
  const { host } = await bootHost(await loadDefinition(), seed !== undefined ? { seed } : {});
  host.runFor(ms * 1e6);
  const result = { hash: host.engine.trace.hash, records: host.engine.trace.count(), host };
  return result;
}

describe('the default machine', () => {
  it('boots Dom0 and its four guests, and their vCPUs run and make hypercalls', async () => {
    const { host } = await runDefault(200);
    try {
      expect(host.domains.list().map((d) => [d.domid, d.name])).toEqual([
        [0, 'Domain-0'],
        [1, 'pv-guest'],
        [2, 'pvh-guest'],
        [3, 'hvm-guest'],
        [4, 'pvh-small'],
      ]);
      expect(host.domains.get(0)!.privileged).toBe(true);
      expect(host.domains.get(1)!.mode).toBe('pv');
      expect(host.domains.get(2)!.mode).toBe('pvh');
      expect(host.domains.get(3)!.mode).toBe('hvm');
      expect(host.engine.trace.count(TraceKind.Hypercall)).toBeGreaterThan(100);
      expect(host.engine.trace.count(TraceKind.Schedule)).toBeGreaterThan(100);
      for (const d of host.domains.list().slice(1)) {
        const ran = d.vcpus.reduce((s, v) => s + v.runstateInfo().time.running, 0);
        expect(ran, d.name).toBeGreaterThan(0);
      }
      // pv-guest: maxvcpus 4 with vcpus 2, so two vCPUs start offline; memory 256 MiB of maxmem 512.
      const pv = host.domains.get(1)!;
      expect(pv.vcpus.map((v) => v.isUp)).toEqual([true, true, false, false]);
      expect(pv.totPages).toBe(256 * 256);
      expect(pv.maxPages).toBe(512 * 256);
      // hvm-guest pins vCPU n to pCPU n.
      expect(host.domains.get(3)!.vcpus.map((v) => [...v.hardAffinity])).toEqual([[0], [1]]);
    } finally {
      await host.shutdown();
    }
  });

  it('gives the same trace hash for the same seed and a different one for another seed', async () => {
    const a = await runDefault(150);
    const b = await runDefault(150);
    const c = await runDefault(150, 12345);
    await Promise.all([a, b, c].map((r) => r.host.shutdown()));
    expect(a.hash).toBe(b.hash);
    expect(a.records).toBe(b.records);
    expect(c.hash).not.toBe(a.hash);
  });

  it("maps each guest's memory in a real P2M and gives every frame back when guests are destroyed", async () => {
    const { host } = await bootHost(await loadDefinition());
    try {
      const pvh = host.domains.get(2)!;
      const p2m = host.p2mOf(2)!;
      expect(p2m.entryCount).toBe(pvh.totPages);
      expect(host.memory.ownerOf(p2m.mfnOf(0 as never) as never)).toBe(2);
      const free0 = host.memory.freeFrames;
      const xen0 = host.memory.framesOf(domId(DOMID_XEN));
      host.runFor(50e6);
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

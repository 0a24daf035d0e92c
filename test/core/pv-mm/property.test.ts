import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Host } from '../../../core/host/host.js';
import { PTE_P, PTE_PS, PTE_PWT, PTE_RW, PTE_US, PTE_G, type MachineFrame } from '../../../core/public/index.js';
import { entryMfn } from '../../../core/pv-mm/index.js';
import { bootTestHost } from '../../hypervisor/harness.js';
import { buildPvDomain, entryAddr, mmuUpdate, pte, pvMmOf, snapshotFrames, type PvDomain } from './helpers.js';

let host: Host;
let victim: PvDomain;

beforeAll(async () => {
  ({ host } = await bootTestHost());
  victim = buildPvDomain(host, 64);
});
afterAll(async () => {
  await host.shutdown();
});

const LEVEL_OF: Record<string, number> = { l1: 1, l2: 2, l3: 3, l4: 4 };

/**
 * Recounts every type reference of `d` from its tables as they are: writable = RW entries of L1 tables
 * mapping the frame; lN = entries of L(N+1) tables pointing at it, plus a pin, plus CR3 for the L4.
 */
function recount(d: PvDomain): Map<number, { type: string; count: number }> {
  const mm = pvMmOf(host);
  const counts = new Map<number, { type: string; count: number }>();
  const add = (mfn: number, type: string) => {
    const c = counts.get(mfn) ?? { type, count: 0 };
    expect(c.type).toBe(type);
    c.count++;
    counts.set(mfn, c);
  };
  for (const mfn of d.mfns) {
    const info = mm.pageInfo(mfn as MachineFrame);
    const level = LEVEL_OF[info.type];
    if (info.pinned) add(mfn, info.type);
    if (level === undefined) continue;
    const w = host.memory.frameWords(mfn as MachineFrame);
    for (let i = 0; i < 512; i++) {
      if ((w[2 * i]! & PTE_P) === 0 || (level === 4 && i >= 256 && i <= 271)) continue;
      const target = entryMfn(w[2 * i]!, w[2 * i + 1]!);
      expect(host.memory.ownerOf(target as MachineFrame)).toBe(d.domid);
      if (level > 1) add(target, `l${level - 1}`);
      else if ((w[2 * i]! & PTE_RW) !== 0) add(target, 'writable');
    }
  }
  add(d.l4, 'l4');
  return counts;
}

describe('mmu_update keeps the PV MMU invariants whatever the guest asks', () => {
  it('type counts match the tables, no table is mapped writable, nothing foreign is mapped, the victim is untouched', () => {
    const request = fc.record({
      table: fc.nat(3),
      index: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 511 })),
      target: fc.oneof(fc.constant(-1), fc.constant(-2), fc.constant(-3), fc.integer({ min: 0, max: 63 })),
      flags: fc.subarray([PTE_P, PTE_RW, PTE_US, PTE_PS, PTE_PWT, PTE_G]),
    });
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 12 }), (reqs) => {
        const a = buildPvDomain(host, 64);
        const before = snapshotFrames(host, victim.mfns);
        try {
          const tables = [a.l4, a.l3, a.l2, a.l1s[0]!];
          for (const r of reqs) {
            // Keep the path to the argument pages (L4/L3/L2 slot 0, L1 slots 16-17) so the helper can make the calls.
            if (r.table < 3 ? r.index === 0 : r.index === 16 || r.index === 17) continue;
            const target = r.target === -1 ? victim.mfns[3]! : r.target === -2 ? host.memory.totalFrames - 1 : r.target === -3 ? tables[(r.table + 1) % 4]! : a.mfns[r.target]!;
            const flags = r.flags.reduce((x, f) => x | f, 0);
            mmuUpdate(host, a.domid, [[entryAddr(tables[r.table]!, r.index), pte(target, flags)]]);
            const expected = recount(a);
            for (const mfn of a.mfns) {
              const info = pvMmOf(host).pageInfo(mfn as MachineFrame);
              const want = expected.get(mfn);
              expect({ mfn, type: info.typeCount ? info.type : 'none', count: info.typeCount }).toEqual({ mfn, type: want?.type ?? 'none', count: want?.count ?? 0 });
            }
          }
          expect(snapshotFrames(host, victim.mfns)).toEqual(before);
        } finally {
          host.domains.destroy(a.domid);
        }
      }),
      { numRuns: 40, seed: 6 },
    );
  });
});

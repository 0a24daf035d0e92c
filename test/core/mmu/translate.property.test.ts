import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hvmSetup, pvSetup } from './helpers.js';
import { PageFault } from '../../../core/mmu/faults.js';
import { Access } from '../../../core/api/memory.js';

/** Up to 40 distinct 4 KiB virtual pages of the lower canonical half, each mapped to one of 64 frames. */
const mappings = fc.uniqueArray(fc.record({ vpage: fc.integer({ min: 0, max: 2 ** 35 - 1 }), frame: fc.integer({ min: 0, max: 63 }) }), {
  minLength: 1,
  maxLength: 40,
  selector: (m) => m.vpage,
});
const probes = fc.array(fc.record({ pick: fc.nat(), offset: fc.integer({ min: 0, max: 4095 }), write: fc.boolean() }), { minLength: 1, maxLength: 20 });
const strangers = fc.array(fc.integer({ min: 0, max: 2 ** 35 - 1 }), { maxLength: 10 });

describe.each(['pv-direct', 'hap', 'shadow'] as const)('translate() agrees with the page tables (%s)', (mode) => {
  it('for random mappings and addresses', () => {
    fc.assert(
      fc.property(mappings, probes, strangers, (maps, reads, others) => {
        const env = mode === 'pv-direct' ? pvSetup(64) : hvmSetup(mode, 64);
        const target = (frame: number) => (mode === 'pv-direct' ? (env as ReturnType<typeof pvSetup>).maddrOf(frame) : frame * 4096);
        const machine = (frame: number) => (mode === 'pv-direct' ? target(frame) : (env as ReturnType<typeof hvmSetup>).ram[frame]! * 4096);
        for (const m of maps) env.tables.map(m.vpage * 4096, target(m.frame));
        for (const probe of reads) {
          const m = maps[probe.pick % maps.length]!;
          const maddr = env.mmu.translate(m.vpage * 4096 + probe.offset, probe.write ? Access.write : Access.read);
          expect(maddr).toBe(machine(m.frame) + probe.offset);
        }
        const mapped = new Set(maps.map((m) => m.vpage));
        for (const vpage of others) {
          if (mapped.has(vpage)) continue;
          expect(() => env.mmu.translate(vpage * 4096)).toThrow(PageFault);
        }
      }),
      { numRuns: 60 },
    );
  });
});

/** The P2M's GFN index: sparse chunks for a few special pages, dense ones once a region fills up. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GfnIndex } from '../../../core/memory/gfn-index.js';

describe('GfnIndex', () => {
  it('matches a map under any mix of sets, deletes and clears, across sparse and dense chunks', () => {
    // GFNs from three 512-frame regions, so chunks cross the 8-entry sparse limit and turn dense.
    const gfn = fc.tuple(fc.constantFrom(0, 7, 0xfeff), fc.nat(40)).map(([region, off]) => region * 512 + off * 12);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), gfn, value: fc.nat(2 ** 40) }),
      fc.record({ kind: fc.constant('delete' as const), gfn }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const index = new GfnIndex();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            index.set(o.gfn, o.value);
            model.set(o.gfn, o.value);
          } else if (o.kind === 'delete') {
            expect(index.delete(o.gfn)).toBe(model.delete(o.gfn));
          } else {
            index.clear();
            model.clear();
          }
          expect(index.size).toBe(model.size);
        }
        expect([...index]).toEqual([...model].sort((a, b) => a[0] - b[0]));
        for (let g = 0; g < 41 * 12; g += 12) {
          for (const region of [0, 7, 0xfeff, 3]) {
            expect(index.get(region * 512 + g)).toBe(model.get(region * 512 + g) ?? -1);
            expect(index.has(region * 512 + g + 1)).toBe(false);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every entry when a region goes from a few special pages to fully mapped', () => {
    const index = new GfnIndex();
    const base = 0xfeff * 512;
    for (const off of [0x1fc, 0x1ff, 0x1fd]) index.set(base + off, off * 32);
    expect([...index]).toEqual([
      [base + 0x1fc, 0x1fc * 32],
      [base + 0x1fd, 0x1fd * 32],
      [base + 0x1ff, 0x1ff * 32],
    ]);
    for (let off = 0; off < 512; off++) index.set(base + off, off);
    expect(index.size).toBe(512);
    for (let off = 0; off < 512; off++) expect(index.get(base + off)).toBe(off);
    expect(index.delete(base + 3)).toBe(true);
    expect(index.get(base + 3)).toBe(-1);
    expect(index.size).toBe(511);
  });
});

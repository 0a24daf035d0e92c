import { describe, expect, it } from 'vitest';
import { float64Column, int32Column } from '../../../core/pv-mm/frame-column.js';

describe('FrameColumn', () => {
  it('reads empty until written, keeps frames of one chunk and of different chunks apart, and lists what is set', () => {
    const c = int32Column();
    expect(c.get(12345)).toBe(0);
    c.set(511, 7);
    c.set(512, 8);
    c.set(5 * 512 + 3, -2);
    c.set(9999, 0); // writing empty makes no chunk
    expect([c.get(510), c.get(511), c.get(512), c.get(513), c.get(5 * 512 + 3)]).toEqual([0, 7, 8, 0, -2]);
    expect([...c.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [511, 7],
      [512, 8],
      [5 * 512 + 3, -2],
    ]);
    c.set(512, 0);
    expect([...c.entries()].map(([f]) => f).sort((a, b) => a - b)).toEqual([511, 5 * 512 + 3]);
  });

  it('a float64 column holds any number, NaN meaning none', () => {
    const m2p = float64Column();
    expect(Number.isNaN(m2p.get(4))).toBe(true);
    m2p.set(4, 2 ** 40 + 1);
    m2p.set(5, 0);
    expect([m2p.get(4), m2p.get(5)]).toEqual([2 ** 40 + 1, 0]);
    m2p.set(4, NaN);
    expect([...m2p.entries()]).toEqual([[5, 0]]);
  });
});

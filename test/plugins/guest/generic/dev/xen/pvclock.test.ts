import { describe, expect, it } from 'vitest';
import { scaleDelta, scaleDeltaNumber } from '../../../../../../plugins/guest/generic/dev/xen/timer/pvclock.js';
import { Rng } from '../../../../../../core/engine/index.js';

describe('pvclock scaling in doubles', () => {
  it('matches pvclock_scale_delta in BigInt for deltas, multipliers and shifts across their ranges', () => {
    const rng = new Rng(7);
    const cases: [number, number, number][] = [
      [0, 0x80000000, 1],
      [1, 0xffffffff, 0],
      [2 ** 32 - 1, 0xffffffff, 0],
      [2 ** 40 + 12345, 0xfedcba98, -3],
      [2 ** 50 - 1, 0x12345678, 2],
      [987654321, 0xffffffff, 31],
    ];
    for (let i = 0; i < 2000; i++) {
      const bits = 1 + rng.nextInt(52);
      const delta = Math.floor(rng.nextFloat() * 2 ** bits);
      cases.push([delta, rng.nextU32(), rng.nextInt(40) - 32]);
    }
    for (const [delta, mul, shift] of cases) {
      const exact = scaleDelta(BigInt(delta), mul, shift);
      const fast = scaleDeltaNumber(delta, mul, shift);
      if (fast === undefined) {
        // The double path declines only where the shifted delta leaves the exact range.
        expect(delta * 2 ** Math.max(0, shift)).toBeGreaterThanOrEqual(Number.MAX_SAFE_INTEGER);
        continue;
      }
      expect(BigInt(fast), `delta ${delta} mul ${mul} shift ${shift}`).toBe(exact);
    }
  });
});

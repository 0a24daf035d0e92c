/** The neighbour cache on its own: holding, resolving, expiry, retries and its bounds. */
import { describe, expect, it } from 'vitest';
import { NeighborCache } from '../../../../../plugins/guest/generic/net/neighbor.js';
import { Clock } from './helpers.js';

function cache(clock: Clock, maxEntries = 4) {
  const solicited: number[] = [];
  const sent: string[] = [];
  const c = new NeighborCache<number, number>(clock.now, { tries: 3, retryNs: 1e9, maxHold: 2, lifetimeNs: 60e9, maxEntries }, (t) => solicited.push(t), (f) => sent.push(`${f[0]}:${f[6]}`));
  return { c, solicited, sent };
}

const frameNo = (n: number) => Uint8Array.of(0, 0, 0, 0, 0, 0, n);

describe('the neighbour cache', () => {
  it('solicits once, holds the newest packets, and sends them with the MAC once it is learnt', () => {
    const clock = new Clock();
    const { c, solicited, sent } = cache(clock);
    for (let n = 1; n <= 3; n++) c.hold(7, 7, frameNo(n));
    expect(solicited).toEqual([7]);
    expect(c.counters.dropped).toBe(1);
    c.learn(7, 7, Uint8Array.of(9, 9, 9, 9, 9, 9), false);
    expect(sent).toEqual(['9:2', '9:3']);
    expect(c.lookup(7)?.[0]).toBe(9);
    c.hold(7, 7, frameNo(4));
    expect(sent).toEqual(['9:2', '9:3', '9:4']);
  });

  it('forgets an entry when it expires, and does not create one from a reply nobody asked for', () => {
    const clock = new Clock();
    const { c } = cache(clock);
    c.learn(1, 1, new Uint8Array(6), false);
    expect(c.lookup(1)).toBeUndefined();
    c.learn(1, 1, new Uint8Array(6), true);
    clock.advance(60e9 - 1);
    expect(c.lookup(1)).toBeDefined();
    clock.advance(1);
    expect(c.lookup(1)).toBeUndefined();
    expect(c.list()).toEqual([]);
  });

  it('evicts the oldest entry past its size, dropping what it held', () => {
    const clock = new Clock();
    const { c } = cache(clock, 2);
    c.hold(1, 1, frameNo(1));
    c.learn(2, 2, new Uint8Array(6), true);
    c.hold(3, 3, frameNo(3));
    expect(c.list().map((e) => e.target)).toEqual([2, 3]);
    expect(c.counters.dropped).toBe(1);
    expect(c.deadline()).toBe(clock.t + 1e9);
    c.clear();
    expect([c.list().length, c.deadline(), c.counters.dropped]).toEqual([0, 0, 2]);
  });
});

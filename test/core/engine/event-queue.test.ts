import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventQueue } from '../../../core/engine/event-queue.js';

describe('EventQueue', () => {
  it('pops events in time order, breaking ties by insertion order', () => {
    const q = new EventQueue();
    const order: string[] = [];
    q.push(20, () => order.push('c'));
    q.push(10, () => order.push('a'));
    q.push(20, () => order.push('d'));
    q.push(10, () => order.push('b'));
    q.drainUntil(Infinity, () => {});
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('does not run a cancelled event and counts only live ones', () => {
    const q = new EventQueue();
    let ran = false;
    const h = q.push(5, () => (ran = true));
    q.push(6, () => {});
    expect(q.size).toBe(2);
    expect(q.cancel(h)).toBe(true);
    expect(q.cancel(h)).toBe(false);
    expect(h.pending).toBe(false);
    expect(q.size).toBe(1);
    expect(q.peekTime()).toBe(6);
    q.drainUntil(Infinity, () => {});
    expect(ran).toBe(false);
  });

  it('stops at the limit and leaves later events queued', () => {
    const q = new EventQueue();
    const seen: number[] = [];
    for (const t of [1, 2, 3, 4]) q.push(t, (now) => seen.push(now));
    expect(q.drainUntil(2, () => {})).toBe(2);
    expect(seen).toEqual([1, 2]);
    expect(q.size).toBe(2);
  });

  it('rejects times that are negative or not finite', () => {
    const q = new EventQueue();
    expect(() => q.push(-1, () => {})).toThrow(RangeError);
    expect(() => q.push(NaN, () => {})).toThrow(RangeError);
    expect(() => q.push(Infinity, () => {})).toThrow(RangeError);
  });

  it('matches a stable sort of (time, seq) for any interleaving of pushes and cancels', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 200 }), (ops) => {
        const q = new EventQueue();
        const fired: number[] = [];
        const expected: { t: number; i: number }[] = [];
        ops.forEach(([t, cancel], i) => {
          const h = q.push(t, () => fired.push(i));
          if (cancel) q.cancel(h);
          else expected.push({ t, i });
        });
        q.drainUntil(Infinity, () => {});
        expected.sort((x, y) => x.t - y.t || x.i - y.i);
        expect(fired).toEqual(expected.map((e) => e.i));
      }),
    );
  });
});

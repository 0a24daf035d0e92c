/** The persistent child list: every version keeps its own contents, whatever is done to the others. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Children } from '../../../../plugins/dom0/xenstored/children.js';

type Op = { kind: 'with' | 'without' | 'read'; version: number; name: string };

describe('Children', () => {
  // Twelve names: lists cross the short-list size (8), so both representations and the switch are exercised.
  it('matches a list model under any mix of adds, removes and reads of any version', () => {
    const op = fc.record({
      kind: fc.constantFrom('with' as const, 'without' as const, 'read' as const),
      version: fc.nat(),
      name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'ff', 'ggg', 'h', 'i', 'j', 'kk', 'l'),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops: Op[]) => {
        const versions: Children[] = [Children.EMPTY];
        const models: string[][] = [[]];
        for (const o of ops) {
          const i = o.version % versions.length;
          const v = versions[i]!;
          const m = models[i]!;
          if (o.kind === 'read') {
            expect(v.names()).toEqual(m);
            continue;
          }
          const next = o.kind === 'with' ? v.with(o.name) : v.without(o.name);
          const model = o.kind === 'with' ? (m.includes(o.name) ? m : [...m, o.name]) : m.filter((n) => n !== o.name);
          versions.push(next);
          models.push(model);
        }
        versions.forEach((v, i) => {
          const m = models[i]!;
          expect(v.names()).toEqual(m);
          expect(v.size).toBe(m.length);
          expect(v.byteLen).toBe(m.reduce((n, s) => n + s.length + 1, 0));
          for (const n of ['a', 'ff', 'zz']) expect(v.has(n)).toBe(m.includes(n));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps each version intact across the switch from a short list to a shared map and back down', () => {
    const versions = [Children.EMPTY];
    for (let i = 0; i < 12; i++) versions.push(versions[i]!.with(`n${i}`));
    const shrunk = versions[12]!.without('n0').without('n5');
    expect(versions[8]!.names()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
    expect(shrunk.names()).toEqual(['n1', 'n2', 'n3', 'n4', 'n6', 'n7', 'n8', 'n9', 'n10', 'n11']);
    expect(versions[10]!.names()).toHaveLength(10);
    expect(versions[10]!.has('n0') && !versions[10]!.has('n10')).toBe(true);
    expect(versions[1]!.without('n0')).toBe(Children.EMPTY);
    expect(versions[3]!.without('n1').names()).toEqual(['n0', 'n2']);
    expect(versions[3]!.names()).toEqual(['n0', 'n1', 'n2']);
  });

  it('adding to and removing from a list of 10,000 names does not copy it', () => {
    let v = Children.EMPTY;
    for (let i = 0; i < 10_000; i++) v = v.with(String(i));
    const first = v.names();
    // 1,000 more creations and removals: a copy each would be 10^7 element moves; the list is shared.
    for (let i = 0; i < 1000; i++) v = v.with(`n${i}`).without(String(i));
    expect(v.size).toBe(10_000);
    expect(v.names().slice(0, 2)).toEqual(['1000', '1001']);
    expect(first).toHaveLength(10_000);
  });
});

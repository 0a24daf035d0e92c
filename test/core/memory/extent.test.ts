import { describe, expect, it } from 'vitest';
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { FakeMachineMemory } from '../../../core/testing/fake-machine-memory.js';
import { domId } from '../../../core/public/types.js';

describe.each([
  ['HostMachineMemory', (n: number) => new HostMachineMemory(n)],
  ['FakeMachineMemory', (n: number) => new FakeMachineMemory(n)],
])('%s.allocateExtent', (_name, make) => {
  it('takes an aligned, contiguous run after frames in use, and all of it is the owner’s', () => {
    const mem = make(4096);
    mem.allocate(domId(1), 3); // frames 0..2
    const first = mem.allocateExtent(domId(2), 9);
    expect(first).toBe(512);
    for (let i = 0; i < 512; i++) expect(mem.ownerOf((first + i) as never)).toBe(2);
    expect(mem.framesOf(domId(2))).toBe(512);
    expect(mem.freeFrames).toBe(4096 - 3 - 512);
    // Single frames still fill the hole below it.
    expect(mem.allocate(domId(3), 1)).toEqual([3]);
  });

  it('skips a run with one frame in use, fails with ENOMEM when no run is left, and releaseAll frees it', () => {
    const mem = make(1024);
    mem.allocate(domId(1), 513); // frames 0..512: both aligned 512-runs are broken
    expect(() => mem.allocateExtent(domId(2), 9)).toThrow(/ENOMEM|no free run/);
    const small = mem.allocateExtent(domId(2), 3);
    expect(small % 8).toBe(0);
    expect(small).toBeGreaterThanOrEqual(513);
    expect(mem.releaseAll(domId(2))).toBe(8);
    expect(mem.framesOf(domId(2))).toBe(0);
  });

  it('firstNotOwned finds the first frame of a range the owner does not hold, past the end of memory too', () => {
    const mem = make(2048);
    mem.allocate(domId(1), 3); // frames 0..2
    const first = mem.allocateExtent(domId(2), 9); // 512..1023
    expect(mem.firstNotOwned(domId(2), first as never, 512)).toBe(-1);
    expect(mem.firstNotOwned(domId(2), (first - 1) as never, 512)).toBe(first - 1);
    expect(mem.firstNotOwned(domId(2), first as never, 513)).toBe(first + 512);
    expect(mem.firstNotOwned(domId(1), 0 as never, 4)).toBe(3);
    mem.free(domId(2), (first + 100) as never);
    expect(mem.firstNotOwned(domId(2), first as never, 512)).toBe(first + 100);
    const last = mem.allocateExtent(domId(3), 10); // 1024..2047: the end of memory
    expect(mem.firstNotOwned(domId(3), last as never, 1024)).toBe(-1);
    expect(mem.firstNotOwned(domId(3), last as never, 1025)).toBe(2048);
  });
});

describe('HostMachineMemory.allocateExtent under churn', () => {
  /** The first aligned run of 2^order free frames, found the slow way. */
  function firstFit(mem: HostMachineMemory, order: number): number {
    const size = 2 ** order;
    for (let base = 0; base + size <= mem.totalFrames; base += size) {
      let i = 0;
      while (i < size && mem.ownerOf((base + i) as never) === undefined) i++;
      if (i === size) return base;
    }
    return -1;
  }

  it('always takes the first aligned free run, whatever mix of frames, extents and frees came before', () => {
    const mem = new HostMachineMemory(8 * 512 + 100); // a partial last chunk too
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const held: number[][] = [[], [], [], []];
    for (let step = 0; step < 3000; step++) {
      const owner = rand(4);
      const op = rand(10);
      if (op < 3) {
        if (mem.freeFrames > 8) held[owner]!.push(...mem.allocate(domId(owner + 1), 1 + rand(8)));
      } else if (op < 6) {
        const order = [0, 2, 5, 9, 9, 10][rand(6)]!;
        const want = firstFit(mem, order);
        if (want < 0) expect(() => mem.allocateExtent(domId(owner + 1), order)).toThrow(/no free run/);
        else {
          const base = mem.allocateExtent(domId(owner + 1), order);
          expect(base).toBe(want);
          for (let i = 0; i < 2 ** order; i++) held[owner]!.push(base + i);
        }
      } else if (op < 9) {
        const list = held[owner]!;
        for (let k = rand(600); k > 0 && list.length > 0; k--) mem.free(domId(owner + 1), list.splice(rand(list.length), 1)[0]! as never);
      } else {
        mem.releaseAll(domId(owner + 1));
        held[owner] = [];
      }
    }
    expect(mem.freeFrames).toBe(mem.totalFrames - held.reduce((n, l) => n + l.length, 0));
  });
});


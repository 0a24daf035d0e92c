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
});

import { describe, expect, it } from 'vitest';
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { GuestError, HardwareError } from '../../../core/api/errors.js';
import { DOMID_XEN } from '../../../core/public/xen.js';
import { domId, machineFrame } from '../../../core/public/types.js';

const dom1 = domId(1);
const dom2 = domId(2);

describe('HostMachineMemory', () => {
  it('allocates the lowest free frames, deterministically', () => {
    const mem = new HostMachineMemory(16);
    expect(mem.allocate(dom1, 3)).toEqual([0, 1, 2]);
    expect(mem.allocate(dom2, 2)).toEqual([3, 4]);
    mem.free(dom1, machineFrame(1));
    expect(mem.allocate(dom2, 2)).toEqual([1, 5]);
    expect(mem.freeFrames).toBe(16 - 6);
  });

  it('tracks owners and per-owner counts, including DOMID_XEN', () => {
    const mem = new HostMachineMemory(8);
    const [a] = mem.allocate(domId(DOMID_XEN), 1);
    mem.allocate(dom1, 2);
    expect(mem.ownerOf(a!)).toBe(DOMID_XEN);
    expect(mem.framesOf(domId(DOMID_XEN))).toBe(1);
    expect(mem.framesOf(dom1)).toBe(2);
    expect(mem.ownerOf(machineFrame(7))).toBeUndefined();
    expect(mem.ownerOf(machineFrame(99))).toBeUndefined();
  });

  it('is all or nothing: ENOMEM takes no frame', () => {
    const mem = new HostMachineMemory(4);
    mem.allocate(dom1, 3);
    const err = (() => {
      try {
        mem.allocate(dom2, 2);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(GuestError);
    expect((err as GuestError).errno).toBe(12);
    expect((err as GuestError).message).toMatch(/dom2.*2 frames wanted, 1 free/);
    expect(mem.framesOf(dom2)).toBe(0);
    expect(mem.freeFrames).toBe(1);
  });

  it('refuses to free a frame another domain owns', () => {
    const mem = new HostMachineMemory(4);
    const [f] = mem.allocate(dom1, 1);
    expect(() => mem.free(dom2, f!)).toThrow(HardwareError);
    expect(() => mem.free(dom2, f!)).toThrow(/owned by dom1/);
    expect(mem.ownerOf(f!)).toBe(dom1);
  });

  it('backs frames only when touched: 1M frames allocated, 10 touched, 10 backed', () => {
    const mem = new HostMachineMemory(1 << 20);
    const frames = mem.allocate(dom1, 1 << 20);
    expect(mem.backedFrames).toBe(0);
    for (let i = 0; i < 10; i++) mem.frameBytes(frames[i * 1000]!)[0] = i;
    expect(mem.backedFrames).toBe(10);
    expect(mem.isBacked(frames[1000]!)).toBe(true);
    expect(mem.isBacked(frames[1]!)).toBe(false);
  });

  it('returns frames zeroed on reuse and drops their bytes when freed', () => {
    const mem = new HostMachineMemory(2);
    const [f] = mem.allocate(dom1, 1);
    mem.frameBytes(f!).fill(0xaa);
    mem.free(dom1, f!);
    expect(mem.backedFrames).toBe(0);
    const [g] = mem.allocate(dom2, 1);
    expect(g).toBe(f);
    expect(mem.frameBytes(g!).every((b) => b === 0)).toBe(true);
  });

  it('scrubs a freed frame before its backing serves another frame, and keeps frames of one slab apart', () => {
    const mem = new HostMachineMemory(200);
    const frames = mem.allocate(dom1, 100); // more than one slab of backing
    frames.forEach((f, i) => mem.frameBytes(f).fill(i & 0xff));
    frames.forEach((f, i) => expect(mem.frameBytes(f).every((b) => b === (i & 0xff))).toBe(true));
    for (const f of frames.slice(0, 50)) mem.free(dom1, f);
    const again = mem.allocate(dom2, 60);
    for (const f of again) expect(mem.frameBytes(f).every((b) => b === 0)).toBe(true);
    again.forEach((f) => mem.frameWords(f).fill(0xdeadbeef));
    frames.slice(50).forEach((f, i) => expect(mem.frameBytes(f).every((b) => b === ((i + 50) & 0xff))).toBe(true));
    expect(mem.backedFrames).toBe(110);
  });

  it('views the same bytes as u32 words, little-endian', () => {
    const mem = new HostMachineMemory(1);
    const [f] = mem.allocate(dom1, 1);
    mem.frameWords(f!)[1] = 0x11223344;
    expect([...mem.frameBytes(f!).subarray(4, 8)]).toEqual([0x44, 0x33, 0x22, 0x11]);
  });

  it('releaseAll frees every frame of one owner only', () => {
    const mem = new HostMachineMemory(10);
    mem.allocate(dom1, 4);
    mem.allocate(dom2, 3);
    expect(mem.releaseAll(dom1)).toBe(4);
    expect(mem.framesOf(dom1)).toBe(0);
    expect(mem.framesOf(dom2)).toBe(3);
    expect(mem.freeFrames).toBe(7);
  });

  it('refuses access to free or out-of-range frames', () => {
    const mem = new HostMachineMemory(2);
    expect(() => mem.frameBytes(machineFrame(0))).toThrow(/mfn 0x0, which is free/);
    expect(() => mem.frameBytes(machineFrame(5))).toThrow(/outside the host's 2 frames/);
  });
});

import { describe, expect, it, vi } from 'vitest';
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { EptP2m } from '../../../core/memory/p2m.js';
import { P2mType } from '../../../core/api/memory.js';
import { HardwareError } from '../../../core/api/errors.js';
import { EPT_P2MT_SHIFT_HI, EPT_PS, EPT_R, EPT_RWX, EPT_W, EPT_X } from '../../../core/public/paging.js';
import { DOMID_XEN } from '../../../core/public/xen.js';
import { domId, guestFrame, machineFrame, type MachineFrame } from '../../../core/public/types.js';

const dom = domId(3);

/** Reads the EPT entry for `gfn` at `level` straight from machine memory. */
function eptEntry(mem: HostMachineMemory, p2m: EptP2m, gfn: number, level: number): [number, number] {
  let words = mem.frameWords(p2m.rootMfn);
  for (let l = 4; ; l--) {
    const i = (Math.floor(gfn / 2 ** (9 * (l - 1))) % 512) * 2;
    if (l === level) return [words[i]!, words[i + 1]!];
    words = mem.frameWords(((words[i + 1]! & 0x3fff) * 2 ** 20 + (words[i]! >>> 12)) as MachineFrame);
  }
}

describe('EptP2m', () => {
  it('maps, looks up and clears frames', () => {
    const mem = new HostMachineMemory(64);
    const p2m = new EptP2m(mem, dom);
    const [a, b] = mem.allocate(dom, 2);
    p2m.set(guestFrame(0x1000), a!, P2mType.ram_rw);
    p2m.set(guestFrame(0x1001), b!, P2mType.ram_ro);
    expect(p2m.lookup(guestFrame(0x1000))).toEqual({ mfn: a, type: P2mType.ram_rw, pageSize: 4096 });
    expect(p2m.typeOf(guestFrame(0x1001))).toBe(P2mType.ram_ro);
    expect(p2m.entryCount).toBe(2);
    expect(p2m.clear(guestFrame(0x1000))).toBe(true);
    expect(p2m.clear(guestFrame(0x1000))).toBe(false);
    expect(p2m.lookup(guestFrame(0x1000))).toBeUndefined();
    expect(p2m.mfnOf(guestFrame(0x1000))).toBe(-1);
    expect(p2m.typeOf(guestFrame(0x1000))).toBe(P2mType.invalid);
    expect(p2m.entryCount).toBe(1);
  });

  it('holds the entries in real EPT tables owned by DOMID_XEN', () => {
    const mem = new HostMachineMemory(64);
    const p2m = new EptP2m(mem, dom);
    const [a, b] = mem.allocate(dom, 2);
    p2m.set(guestFrame(0x12345), a!, P2mType.ram_rw);
    p2m.set(guestFrame(0x12346), b!, P2mType.ram_ro);
    expect(p2m.tableFrameCount).toBe(4);
    expect(mem.framesOf(domId(DOMID_XEN))).toBe(4);
    expect(mem.ownerOf(p2m.rootMfn)).toBe(DOMID_XEN);
    const [lo, hi] = eptEntry(mem, p2m, 0x12345, 1);
    expect(lo & EPT_RWX).toBe(EPT_RWX);
    expect(lo >>> 12).toBe(a);
    expect((hi >>> EPT_P2MT_SHIFT_HI) & 0x3f).toBe(P2mType.ram_rw);
    const [lo2, hi2] = eptEntry(mem, p2m, 0x12346, 1);
    expect(lo2 & EPT_RWX).toBe(EPT_R | EPT_X);
    expect((hi2 >>> EPT_P2MT_SHIFT_HI) & 0x3f).toBe(P2mType.ram_ro);
    expect(eptEntry(mem, p2m, 0x12345, 2)[0] & EPT_RWX).toBe(EPT_RWX);
    expect(p2m.eptp % 4096).toBe((3 << 3) | 6);
    expect(Math.floor(p2m.eptp / 4096)).toBe(p2m.rootMfn);
  });

  it('gives grant and MMIO types their access bits', () => {
    const mem = new HostMachineMemory(64);
    const p2m = new EptP2m(mem, dom);
    p2m.set(guestFrame(1), machineFrame(40), P2mType.grant_map_ro);
    p2m.set(guestFrame(2), machineFrame(41), P2mType.mmio_direct);
    p2m.set(guestFrame(3), machineFrame(42), P2mType.mmio_dm);
    expect(eptEntry(mem, p2m, 1, 1)[0] & EPT_RWX).toBe(EPT_R);
    expect(eptEntry(mem, p2m, 2, 1)[0] & EPT_RWX).toBe(EPT_R | EPT_W);
    expect(eptEntry(mem, p2m, 3, 1)[0] & EPT_RWX).toBe(0);
    expect(p2m.typeOf(guestFrame(3))).toBe(P2mType.mmio_dm);
  });

  it('refuses RAM mappings of frames the domain does not own', () => {
    const mem = new HostMachineMemory(64);
    const p2m = new EptP2m(mem, dom);
    const [other] = mem.allocate(domId(4), 1);
    expect(() => p2m.set(guestFrame(0), other!, P2mType.ram_rw)).toThrow(/owned by dom4/);
    expect(() => p2m.set(guestFrame(0), machineFrame(60), P2mType.ram_rw)).toThrow(HardwareError);
    expect(() => p2m.set(guestFrame(0), other!, P2mType.grant_map_rw)).not.toThrow();
  });

  it('maps 2 MiB entries and splits them when a frame inside changes', () => {
    const mem = new HostMachineMemory(2048);
    const all = mem.allocate(dom, 1536);
    const base = all[512]!;
    const p2m = new EptP2m(mem, dom);
    p2m.setLarge(guestFrame(0x200), base, P2mType.ram_rw);
    expect(p2m.entryCount).toBe(512);
    expect(eptEntry(mem, p2m, 0x200, 2)[0] & EPT_PS).toBe(EPT_PS);
    expect(p2m.lookup(guestFrame(0x205))).toEqual({ mfn: base + 5, type: P2mType.ram_rw, pageSize: 2 * 1024 * 1024 });
    p2m.clear(guestFrame(0x201));
    expect(eptEntry(mem, p2m, 0x200, 2)[0] & EPT_PS).toBe(0);
    expect(p2m.entryCount).toBe(511);
    expect(p2m.mfnOf(guestFrame(0x205))).toBe(base + 5);
    expect(eptEntry(mem, p2m, 0x205, 1)[0] >>> 12).toBe(base + 5);
    expect(() => p2m.setLarge(guestFrame(0x201), base, P2mType.ram_rw)).toThrow(/512-aligned/);
  });

  it('notifies listeners when a present entry changes, not when one is added', () => {
    const mem = new HostMachineMemory(64);
    const p2m = new EptP2m(mem, dom);
    const [a, b] = mem.allocate(dom, 2);
    const listener = vi.fn();
    const off = p2m.onChange(listener);
    p2m.set(guestFrame(7), a!, P2mType.ram_rw);
    expect(listener).not.toHaveBeenCalled();
    p2m.set(guestFrame(7), b!, P2mType.ram_rw);
    p2m.clear(guestFrame(7));
    expect(listener).toHaveBeenCalledTimes(2);
    off();
    p2m.set(guestFrame(7), a!, P2mType.ram_rw);
    p2m.clear(guestFrame(7));
    expect(listener).toHaveBeenCalledTimes(2);
  });

  it('frees every table frame on destroy', () => {
    const mem = new HostMachineMemory(64);
    const p2m = new EptP2m(mem, dom);
    const [a] = mem.allocate(dom, 1);
    p2m.set(guestFrame(0x40000), a!, P2mType.ram_rw);
    expect(mem.framesOf(domId(DOMID_XEN))).toBe(4);
    p2m.destroy();
    expect(mem.framesOf(domId(DOMID_XEN))).toBe(0);
    expect(() => p2m.set(guestFrame(0), a!, P2mType.ram_rw)).toThrow(/after destroy/);
  });
});

import { describe, expect, it } from 'vitest';
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { EptP2m } from '../../../core/memory/p2m.js';
import { DomainGuestMemory } from '../../../core/memory/guest-memory.js';
import { P2mType } from '../../../core/api/memory.js';
import { GuestError } from '../../../core/api/errors.js';
import { domId, guestFrame, guestPhysAddr } from '../../../core/public/types.js';

const dom = domId(5);

function setup() {
  const mem = new HostMachineMemory(64);
  const p2m = new EptP2m(mem, dom);
  const frames = mem.allocate(dom, 3);
  p2m.set(guestFrame(0x10), frames[0]!, P2mType.ram_rw);
  p2m.set(guestFrame(0x11), frames[1]!, P2mType.ram_rw);
  p2m.set(guestFrame(0x12), frames[2]!, P2mType.ram_ro);
  return { mem, p2m, frames, gm: new DomainGuestMemory(mem, p2m) };
}

describe('DomainGuestMemory', () => {
  it('reads and writes across a page boundary into the right machine frames', () => {
    const { mem, frames, gm } = setup();
    gm.write(guestPhysAddr(0x10ffe), new Uint8Array([1, 2, 3, 4]));
    expect([...mem.frameBytes(frames[0]!).subarray(4094)]).toEqual([1, 2]);
    expect([...mem.frameBytes(frames[1]!).subarray(0, 2)]).toEqual([3, 4]);
    expect([...gm.read(guestPhysAddr(0x10ffe), 4)]).toEqual([1, 2, 3, 4]);
  });

  it('reads and writes u32 values, aligned or not', () => {
    const { gm } = setup();
    gm.writeU32(guestPhysAddr(0x10100), 0xdeadbeef);
    expect(gm.readU32(guestPhysAddr(0x10100))).toBe(0xdeadbeef);
    gm.writeU32(guestPhysAddr(0x10ffe), 0x01020304);
    expect(gm.readU32(guestPhysAddr(0x10ffe))).toBe(0x01020304);
  });

  it('reads untouched frames as zero without backing them', () => {
    const { mem, gm } = setup();
    expect([...gm.read(guestPhysAddr(0x11000), 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(mem.backedFrames).toBe(4); // the four EPT table frames
  });

  it('refuses writes to read-only types and writes nothing of a straddling write', () => {
    const { mem, frames, gm } = setup();
    expect(() => gm.write(guestPhysAddr(0x11ffe), new Uint8Array([9, 9, 9, 9]))).toThrow(/gfn 0x12\) is ram_ro: read-only/);
    expect(mem.isBacked(frames[1]!)).toBe(false);
    expect(gm.read(guestPhysAddr(0x12000), 4)).toEqual(new Uint8Array(4));
  });

  it('refuses unmapped addresses with EFAULT naming the domain', () => {
    const { gm } = setup();
    let err: unknown;
    try {
      gm.read(guestPhysAddr(0x12ffc), 8);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GuestError);
    expect((err as GuestError).code).toBe('EFAULT');
    expect((err as GuestError).message).toBe('(dom5): read of guest-physical 0x13000 (gfn 0x13) is not mapped');
  });
});

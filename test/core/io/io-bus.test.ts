import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IoBus } from '../../../core/io/index.js';
import { HardwareError } from '../../../core/api/errors.js';
import type { IoHandler } from '../../../core/api/io.js';
import { ioPort } from '../../../core/public/types.js';

/** A handler recording accesses and answering reads with `base + offset`. */
function recorder(base = 0) {
  const log: string[] = [];
  const handler: IoHandler = {
    read: (offset, size) => {
      log.push(`r${size}@${offset}`);
      return base + offset;
    },
    write: (offset, size, value) => {
      log.push(`w${size}@${offset}=${value.toString(16)}`);
    },
  };
  return { log, handler };
}

describe('IoBus', () => {
  it('dispatches accesses with the offset inside the claimed range', () => {
    const bus = new IoBus();
    const uart = recorder(0x40);
    bus.register(ioPort(0x3f8), 8, uart.handler, 'uart0');
    expect(bus.read(ioPort(0x3fd), 1)).toBe(0x45);
    bus.write(ioPort(0x3f8), 1, 0x41);
    bus.write(ioPort(0x3fa), 2, 0x12345);
    expect(uart.log).toEqual(['r1@5', 'w1@0=41', 'w2@2=2345']);
    expect(bus.ownerOf(ioPort(0x3ff))).toBe('uart0');
    expect(bus.ownerOf(ioPort(0x400))).toBeUndefined();
  });

  it('truncates a handler result to the access size', () => {
    const bus = new IoBus();
    bus.register(ioPort(0x80), 4, { read: () => -1, write: () => {} }, 'post');
    expect(bus.read(ioPort(0x80), 1)).toBe(0xff);
    expect(bus.read(ioPort(0x80), 2)).toBe(0xffff);
    expect(bus.read(ioPort(0x80), 4)).toBe(0xffff_ffff);
  });

  it('reads all ones from unclaimed ports, drops unclaimed writes, and counts both', () => {
    const seen: string[] = [];
    const bus = new IoBus((access, addr, size) => seen.push(`${access} ${addr.toString(16)}/${size}`));
    expect(bus.read(ioPort(0x60), 1)).toBe(0xff);
    expect(bus.read(ioPort(0x60), 2)).toBe(0xffff);
    expect(bus.read(ioPort(0x60), 4)).toBe(0xffff_ffff);
    bus.write(ioPort(0x61), 1, 0);
    expect(bus.unclaimed).toEqual({ reads: 3, writes: 1 });
    expect(seen).toEqual(['read 60/1', 'read 60/2', 'read 60/4', 'write 61/1']);
  });

  it('names both owners and ranges in hex when registrations overlap', () => {
    const bus = new IoBus();
    bus.register(ioPort(0x3f8), 8, recorder().handler, 'uart0');
    expect(() => bus.register(ioPort(0x3f8), 8, recorder().handler, 'uart1')).toThrow(
      'io: ports 0x3f8-0x3ff for "uart1" overlap 0x3f8-0x3ff already registered by "uart0"',
    );
    expect(() => bus.register(ioPort(0x3f0), 9, recorder().handler, 'fdc')).toThrow(/0x3f0-0x3f8 for "fdc" overlap 0x3f8-0x3ff/);
    expect(() => bus.register(ioPort(0x3ff), 1, recorder().handler, 'x')).toThrow(HardwareError);
  });

  it('frees a range on dispose so it can be claimed again', () => {
    const bus = new IoBus();
    const reg = bus.register(ioPort(0x70), 2, recorder().handler, 'rtc');
    expect(reg.active).toBe(true);
    reg.dispose();
    reg.dispose();
    expect(reg.active).toBe(false);
    expect(bus.read(ioPort(0x70), 1)).toBe(0xff);
    bus.register(ioPort(0x70), 2, recorder().handler, 'rtc2');
    expect(bus.ownerOf(ioPort(0x71))).toBe('rtc2');
  });

  it('refuses accesses that straddle a range edge', () => {
    const bus = new IoBus();
    bus.register(ioPort(0x3f8), 8, recorder().handler, 'uart0');
    bus.register(ioPort(0x404), 4, recorder().handler, 'acpi');
    expect(() => bus.read(ioPort(0x402), 4)).toThrow(/straddles unclaimed space and 0x404-0x407 \("acpi"\)/);
    expect(() => bus.read(ioPort(0x3fe), 4)).toThrow(/straddles 0x3f8-0x3ff \("uart0"\) and unclaimed space/);
    expect(() => bus.write(ioPort(0x3f6), 4, 0)).toThrow(/straddles unclaimed space and 0x3f8-0x3ff \("uart0"\)/);
    expect(() => bus.read(ioPort(0x3fe), 4)).toThrow(HardwareError);
    bus.register(ioPort(0x3f0), 8, recorder().handler, 'fdc');
    expect(() => bus.read(ioPort(0x3f6), 4)).toThrow(/straddles 0x3f0-0x3f7 \("fdc"\) and 0x3f8-0x3ff \("uart0"\)/);
    expect(() => bus.read(ioPort(0xffff), 2)).toThrow(/past the end/);
  });

  it('rejects ranges outside the port space and bad access sizes', () => {
    const bus = new IoBus();
    expect(() => bus.register(ioPort(0xfffe), 4, recorder().handler, 'x')).toThrow(/outside 0x0-0xffff/);
    expect(() => bus.register(ioPort(0), 0, recorder().handler, 'x')).toThrow(HardwareError);
    expect(() => bus.read(ioPort(0), 3 as 1)).toThrow(/sizes allowed: 1, 2, 4/);
  });

  it('accepts a registration exactly when it overlaps nothing already registered (property)', () => {
    const range = fc.tuple(fc.integer({ min: 0, max: 0x3ff }), fc.integer({ min: 1, max: 64 }));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 0x43f }), { maxLength: 40 }), (ranges, probes) => {
        const bus = new IoBus();
        const accepted: { start: number; end: number; owner: string }[] = [];
        ranges.forEach(([start, length], i) => {
          const overlaps = accepted.some((r) => start < r.end && r.start < start + length);
          const owner = `dev${i}`;
          let ok = true;
          try {
            bus.register(ioPort(start), length, recorder().handler, owner);
          } catch (e) {
            ok = false;
            expect(e).toBeInstanceOf(HardwareError);
          }
          expect(ok).toBe(!overlaps);
          if (ok) accepted.push({ start, end: start + length, owner });
        });
        for (const port of probes) {
          expect(bus.ownerOf(ioPort(port))).toBe(accepted.find((r) => port >= r.start && port < r.end)?.owner);
        }
      }),
    );
  });
});

describe('IoBus dispatch (property)', () => {
  it('routes an access to the range holding it, answers all ones where nothing is claimed, and refuses the rest', () => {
    const layout = [
      [0x20, 2, 'pic'],
      [0x40, 4, 'pit'],
      [0x60, 1, 'kbd'],
      [0x64, 1, 'kbd-cmd'],
      [0x70, 2, 'rtc'],
    ] as const;
    fc.assert(
      fc.property(fc.integer({ min: 0x18, max: 0x7f }), fc.constantFrom(1 as const, 2 as const, 4 as const), (port, size) => {
        const bus = new IoBus();
        for (const [start, length, owner] of layout) bus.register(ioPort(start), length, { read: () => start, write: () => {} }, owner);
        const touched = layout.filter(([start, length]) => port < start + length && start < port + size);
        const inside = touched.length === 1 && port >= touched[0]![0] && port + size <= touched[0]![0] + touched[0]![1];
        if (touched.length === 0) expect(bus.read(ioPort(port), size)).toBe(2 ** (8 * size) - 1);
        else if (inside) expect(bus.read(ioPort(port), size)).toBe(touched[0]![0]);
        else expect(() => bus.read(ioPort(port), size)).toThrow(/straddles/);
      }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { PIT_FREQ, pit8254Model } from '../../../../plugins/device-models/pit8254/index.js';
import { rig } from '../../dom0/device-model/fakes.js';

const tickNs = 1e9 / PIT_FREQ;

describe('pit8254', () => {
  it('channel 0 in mode 2 pulses IRQ 0 once per period, only once programmed, and stops when reprogrammed', () => {
    const { guest, server, clock } = rig([pit8254Model]);
    clock.advance(10e6);
    expect(server.edges(0)).toBe(0);
    guest.outb(0x43, 0x34); // ch0, lohi, mode 2
    guest.outb(0x40, 0xa9);
    guest.outb(0x40, 0x04); // 1193 ticks ≈ 1 ms
    clock.advance(10e6 + 1000);
    expect(server.edges(0)).toBe(10);
    guest.outb(0x43, 0x34);
    clock.advance(10e6);
    expect(server.edges(0)).toBe(10);
  });

  it('counts down from virtual time; the latch command freezes the value read', () => {
    const { guest, clock } = rig([pit8254Model]);
    guest.outb(0x43, 0x30); // ch0 lohi mode 0
    guest.outb(0x40, 0x00);
    guest.outb(0x40, 0x10); // 4096
    clock.advance(Math.ceil(100 * tickNs));
    guest.outb(0x43, 0x00); // latch ch0
    clock.advance(Math.ceil(500 * tickNs));
    const latched = guest.inb(0x40) | (guest.inb(0x40) << 8);
    expect(latched).toBe(4096 - 100);
    const live = guest.inb(0x40) | (guest.inb(0x40) << 8);
    expect(live).toBe(4096 - 600);
  });

  it('read-back latches status (OUT, access, mode, BCD) and counts', () => {
    const { guest, clock } = rig([pit8254Model]);
    guest.outb(0x43, 0xb6); // ch2 lohi mode 3
    guest.outb(0x42, 0x00);
    guest.outb(0x42, 0x01); // 256
    guest.outb(0x61, 0x01); // gate on
    clock.advance(Math.ceil(10 * tickNs));
    guest.outb(0x43, 0xc8); // read-back: count and status of ch2
    expect(guest.inb(0x42)).toBe(0x80 | 0x30 | 0x06);
    expect(guest.inb(0x42) | (guest.inb(0x42) << 8)).toBe(256 - 20);
  });

  it('port 0x61 shows channel 2 gate and OUT (mode 0 one-shot), and a BCD count counts in decimal', () => {
    const { guest, clock } = rig([pit8254Model]);
    guest.outb(0x61, 0x01);
    guest.outb(0x43, 0xb1); // ch2 lohi mode 0 BCD
    guest.outb(0x42, 0x00);
    guest.outb(0x42, 0x10); // BCD 1000
    expect(guest.inb(0x61) & 0x21).toBe(0x01);
    clock.advance(Math.ceil(1 * tickNs));
    expect(guest.inb(0x42) | (guest.inb(0x42) << 8)).toBe(0x0999);
    clock.advance(Math.ceil(1000 * tickNs));
    expect(guest.inb(0x61) & 0x20).toBe(0x20);
  });

  it('bad input is harmless: reading the control port gives all ones', () => {
    const { guest } = rig([pit8254Model]);
    expect(guest.inb(0x43)).toBe(0xff);
    guest.outb(0x43, 0xfe);
    guest.out(0x40, 4, 0xffff_ffff);
  });
});

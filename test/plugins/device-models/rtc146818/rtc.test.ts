import { describe, expect, it } from 'vitest';
import { rtc146818Model } from '../../../../plugins/device-models/rtc146818/index.js';
import { hvmConfig, rig } from '../../dom0/device-model/fakes.js';

const EPOCH = BigInt(Date.UTC(2026, 0, 1, 23, 59, 58)) * 1_000_000n;

function cmos(guest: ReturnType<typeof rig>['guest'], reg: number): number {
  guest.outb(0x70, reg | 0x80); // the NMI bit is ignored
  return guest.inb(0x71);
}
function setCmos(guest: ReturnType<typeof rig>['guest'], reg: number, v: number): void {
  guest.outb(0x70, reg);
  guest.outb(0x71, v);
}

describe('rtc146818', () => {
  it('tells the epoch plus virtual time in BCD, 24 h by default, and rolls over the day', () => {
    const { guest, clock } = rig([rtc146818Model(() => EPOCH)], hvmConfig());
    expect([cmos(guest, 4), cmos(guest, 2), cmos(guest, 0)]).toEqual([0x23, 0x59, 0x58]);
    expect([cmos(guest, 7), cmos(guest, 8), cmos(guest, 9), cmos(guest, 0x32)]).toEqual([0x01, 0x01, 0x26, 0x20]);
    clock.advance(3e9);
    expect([cmos(guest, 4), cmos(guest, 2), cmos(guest, 0), cmos(guest, 7), cmos(guest, 6)]).toEqual([0x00, 0x00, 0x01, 0x02, 0x06]);
    expect(cmos(guest, 0x0d)).toBe(0x80);
  });

  it('binary and 12-hour modes per register B; SET freezes the clock and the written time then runs', () => {
    const { guest, clock } = rig([rtc146818Model(() => EPOCH)], hvmConfig());
    setCmos(guest, 0x0b, 0x04); // binary, 12 h
    expect(cmos(guest, 4)).toBe(0x80 | 11);
    setCmos(guest, 0x0b, 0x86); // SET, binary, 24 h
    setCmos(guest, 4, 7);
    setCmos(guest, 2, 30);
    setCmos(guest, 0, 0);
    clock.advance(5e9);
    expect(cmos(guest, 0)).toBe(0);
    setCmos(guest, 0x0b, 0x06);
    clock.advance(2e9);
    expect([cmos(guest, 4), cmos(guest, 2), cmos(guest, 0)]).toEqual([7, 30, 2]);
  });

  it('UIP is set in the 244 µs before an update', () => {
    const { guest, clock } = rig([rtc146818Model(() => 0n)], hvmConfig());
    clock.advance(1e9 - 100_000);
    expect(cmos(guest, 0x0a) & 0x80).toBe(0x80);
    clock.advance(200_000);
    expect(cmos(guest, 0x0a)).toBe(0x26);
  });

  it('periodic interrupts at register A\'s rate raise IRQ 8 with PF|IRQF; reading C clears them', () => {
    const { guest, server, clock } = rig([rtc146818Model(() => 0n)], hvmConfig());
    setCmos(guest, 0x0a, 0x26); // 1024 Hz
    setCmos(guest, 0x0b, 0x42); // PIE
    clock.advance(1e6);
    expect(server.level(8)).toBe(true);
    expect(cmos(guest, 0x0c)).toBe(0xc0);
    expect(server.level(8)).toBe(false);
    expect(cmos(guest, 0x0c)).toBe(0);
    clock.advance(10e6);
    expect(server.edges(8)).toBe(2);
  });

  it('update-ended and alarm interrupts once a second', () => {
    const { guest, server, clock } = rig([rtc146818Model(() => 0n)], hvmConfig());
    setCmos(guest, 1, 0x02);
    setCmos(guest, 3, 0xc0);
    setCmos(guest, 5, 0xc0);
    setCmos(guest, 0x0b, 0x32); // AIE | UIE | 24 h
    // PF is set at register A's rate whether or not PIE is: mask it.
    clock.advance(1e9);
    expect(cmos(guest, 0x0c) & ~0x40).toBe(0x90);
    clock.advance(1e9);
    expect(cmos(guest, 0x0c) & ~0x40).toBe(0xb0);
    expect(server.edges(8)).toBe(2);
  });

  it('has the memory-size and CPU CMOS bytes hvmloader and QEMU set, with the checksum', () => {
    const { guest } = rig([rtc146818Model(() => 0n)], hvmConfig({ memoryBytes: 5 * 2 ** 30, vcpus: 4 }));
    expect(cmos(guest, 0x15) | (cmos(guest, 0x16) << 8)).toBe(640);
    expect(cmos(guest, 0x30) | (cmos(guest, 0x31) << 8)).toBe(0xffff);
    expect(cmos(guest, 0x34) | (cmos(guest, 0x35) << 8)).toBe((0xf000_0000 - (16 << 20)) / 65536);
    expect(cmos(guest, 0x5b) | (cmos(guest, 0x5c) << 8) | (cmos(guest, 0x5d) << 16)).toBe((5 * 2 ** 30 - 0xf000_0000) / 65536);
    expect(cmos(guest, 0x5f)).toBe(3);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += cmos(guest, i);
    expect((cmos(guest, 0x2e) << 8) | cmos(guest, 0x2f)).toBe(sum);
    setCmos(guest, 0x40, 0x5a);
    expect(cmos(guest, 0x40)).toBe(0x5a);
    expect(guest.inb(0x70)).toBe(0xff);
  });
});

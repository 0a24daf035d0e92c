import { describe, expect, it } from 'vitest';
import { GsiRouter, IoApic, IO_APIC_DEFAULT_BASE, IO_APIC_MMIO_SIZE, createInterruptLine } from '../../../core/apic/index.js';
import { MmioBus } from '../../../core/io/index.js';
import { gsi, machineAddr, type MachineAddr } from '../../../core/public/types.js';
import { HardwareError } from '../../../core/api/errors.js';
import { machine } from './machine.js';

const LEVEL = 1 << 15;
const MASKED = 1 << 16;
const REMOTE_IRR = 1 << 14;

/** An IO-APIC on a two-CPU machine, with `pin` routed to `vector` on APIC `dest`. */
function platform(pin = 4, low = 0x30, dest = 1) {
  const m = machine(2);
  const ioapic = new IoApic(m.bus, { id: 2 });
  ioapic.writeRegister(0x11 + 2 * pin, dest << 24);
  ioapic.writeRegister(0x10 + 2 * pin, low);
  return { ...m, ioapic, target: m.apics[dest]! };
}

describe('IoApic registers', () => {
  it('reports its ID and a version of 0x00170011 for 24 pins', () => {
    const { ioapic } = platform();
    expect(ioapic.readRegister(0)).toBe(0x0200_0000);
    expect(ioapic.readRegister(1)).toBe(0x0017_0011);
    ioapic.writeRegister(0, 0x0500_0000);
    expect(ioapic.readRegister(0)).toBe(0x0500_0000);
    expect(new IoApic(machine(1).bus, { pins: 8 }).version).toBe(0x0007_0011);
  });

  it('starts every redirection entry masked and keeps delivery status and remote IRR read-only', () => {
    const { ioapic } = platform();
    expect(ioapic.readRegister(0x10 + 2 * 7)).toBe(MASKED);
    ioapic.writeRegister(0x10 + 2 * 7, 0xffff_ffff);
    expect(ioapic.readRegister(0x10 + 2 * 7)).toBe((0xffff_ffff & ~(REMOTE_IRR | (1 << 12))) >>> 0);
    ioapic.writeRegister(0x11 + 2 * 7, 0xffff_ffff);
    expect(ioapic.readRegister(0x11 + 2 * 7)).toBe(0xffff_ffff);
    expect(ioapic.entry(7)).toMatchObject({ vector: 0xff, deliveryMode: 7, logical: true, activeLow: true, level: true, masked: true, dest: 0xff });
  });

  it('is reached through IOREGSEL and IOWIN at 0xFEC00000', () => {
    const { ioapic } = platform();
    const bus = new MmioBus<MachineAddr>();
    bus.register(machineAddr(IO_APIC_DEFAULT_BASE), IO_APIC_MMIO_SIZE, ioapic.mmio, 'ioapic');
    bus.write(machineAddr(0xfec0_0000), 4, 0x01);
    expect(bus.read(machineAddr(0xfec0_0010), 4)).toBe(0x0017_0011);
    bus.write(machineAddr(0xfec0_0000), 4, 0x12);
    bus.write(machineAddr(0xfec0_0010), 4, 0x35);
    expect(ioapic.entry(1).vector).toBe(0x35);
    expect(bus.read(machineAddr(0xfec0_0000), 4)).toBe(0x12);
  });
});

describe('IoApic delivery', () => {
  it('delivers an edge to the destination APIC, and loses an edge that arrives while masked', () => {
    const { ioapic, target, apics } = platform(4, 0x30);
    ioapic.pulse(4);
    expect(target.pendingVector).toBe(0x30);
    expect(apics[0]!.irr.has(0x30)).toBe(false);
    target.acknowledge();
    target.eoi();
    ioapic.writeRegister(0x18, 0x30 | MASKED);
    ioapic.pulse(4);
    ioapic.writeRegister(0x18, 0x30);
    expect(target.pendingVector).toBeUndefined();
  });

  it('holds a level interrupt behind remote IRR and re-delivers it after the EOI while the line stays asserted', () => {
    const { ioapic, target } = platform(5, LEVEL | 0x31);
    ioapic.setLevel(5, true);
    expect(ioapic.entry(5).remoteIrr).toBe(true);
    expect(target.acknowledge()).toBe(0x31);
    expect(target.tmr.has(0x31)).toBe(true);
    ioapic.setLevel(5, true);
    expect(target.irr.has(0x31)).toBe(false);
    target.eoi();
    expect(ioapic.entry(5).remoteIrr).toBe(true);
    expect(target.acknowledge()).toBe(0x31);
    ioapic.setLevel(5, false);
    target.eoi();
    expect(ioapic.entry(5).remoteIrr).toBe(false);
    expect(target.pendingVector).toBeUndefined();
  });

  it('re-examines a masked level line when it is unmasked', () => {
    const { ioapic, target } = platform(6, LEVEL | MASKED | 0x32);
    ioapic.setLevel(6, true);
    expect(target.pendingVector).toBeUndefined();
    ioapic.writeRegister(0x10 + 12, LEVEL | 0x32);
    expect(target.pendingVector).toBe(0x32);
  });

  it('delivers a level pulse once', () => {
    const { ioapic, target } = platform(3, LEVEL | 0x33);
    ioapic.pulse(3);
    expect(target.acknowledge()).toBe(0x33);
    target.eoi();
    expect(target.pendingVector).toBeUndefined();
  });

  it('clears remote IRR when a pin is switched to edge', () => {
    const { ioapic } = platform(2, LEVEL | 0x34);
    ioapic.setLevel(2, true);
    expect(ioapic.entry(2).remoteIrr).toBe(true);
    ioapic.writeRegister(0x14, 0x34);
    expect(ioapic.entry(2).remoteIrr).toBe(false);
  });

  it('stops hearing EOIs once disposed', () => {
    const { ioapic, target } = platform(5, LEVEL | 0x31);
    ioapic.setLevel(5, true);
    target.acknowledge();
    ioapic.dispose();
    target.eoi();
    expect(ioapic.entry(5).remoteIrr).toBe(true);
  });

  it('names the IO-APIC and pin when a pin does not exist', () => {
    const { ioapic } = platform();
    expect(() => ioapic.setLevel(24, true)).toThrow('ioapic2: no pin 24 (it has 24)');
  });
});

describe('GsiRouter', () => {
  function twoIoApics() {
    const m = machine(2);
    const first = new IoApic(m.bus, { id: 0 });
    const second = new IoApic(m.bus, { id: 1, gsiBase: 24, pins: 16, base: 0xfec0_1000 });
    const router = new GsiRouter();
    router.addIoApic(second);
    router.addIoApic(first);
    return { ...m, first, second, router };
  }

  it('maps GSIs to (IO-APIC, pin) by gsi_base', () => {
    const { router, first, second } = twoIoApics();
    expect(router.route(gsi(4))).toEqual({ ioapic: first, pin: 4 });
    expect(router.route(gsi(30))).toEqual({ ioapic: second, pin: 6 });
    expect(router.route(gsi(40))).toBeUndefined();
    expect(router.gsiCount).toBe(40);
    expect(router.all).toEqual([first, second]);
  });

  it('drives the right pin with setLevel and pulse', () => {
    const { router, second, apics } = twoIoApics();
    second.writeRegister(0x10 + 2 * 6, 0x50);
    router.pulse(gsi(30));
    expect(apics[0]!.pendingVector).toBe(0x50);
    router.setLevel(gsi(31), true);
    expect(second.level(7)).toBe(true);
  });

  it('rejects overlapping IO-APICs and unrouted GSIs', () => {
    const { router, bus } = twoIoApics();
    expect(() => router.addIoApic(new IoApic(bus, { id: 3, gsiBase: 30, name: 'late' }))).toThrow(
      'gsi: late serving GSIs 30-53 overlaps ioapic1 serving 24-39',
    );
    expect(() => router.setLevel(gsi(99), true)).toThrow(/no IO-APIC serves GSI 99 \(served: 0-23, 24-39\)/);
    expect(() => router.createLine(gsi(99))).toThrow(HardwareError);
  });

  it('wires lines of one GSI together: the pin stays asserted while any line is', () => {
    const { router, first, apics } = twoIoApics();
    first.writeRegister(0x10 + 2 * 11, LEVEL | 0x60);
    const a = createInterruptLine(router, gsi(11));
    const b = createInterruptLine(router, gsi(11));
    a.assert();
    b.assert();
    expect(a.asserted && b.asserted).toBe(true);
    a.deassert();
    expect(first.level(11)).toBe(true);
    expect(apics[0]!.acknowledge()).toBe(0x60);
    apics[0]!.eoi();
    expect(apics[0]!.acknowledge()).toBe(0x60);
    b.deassert();
    apics[0]!.eoi();
    expect(first.level(11)).toBe(false);
    expect(apics[0]!.pendingVector).toBeUndefined();
  });

  it('gives an edge from a line pulse', () => {
    const { router, first, apics } = twoIoApics();
    first.writeRegister(0x10 + 2 * 1, 0x61);
    const keyboard = createInterruptLine(router, gsi(1));
    keyboard.pulse();
    expect(keyboard.asserted).toBe(false);
    expect(apics[0]!.pendingVector).toBe(0x61);
  });
});

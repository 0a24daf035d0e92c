import { describe, expect, it } from 'vitest';
import { FakeHvm } from './platform.js';
import { pciEnumerate } from '../../../../../plugins/guest/generic/dev/pci/pci.js';
import { xenUnplugEmulatedDevices } from '../../../../../plugins/guest/generic/dev/xen/xenpci/unplug.js';
import { Ns8250 } from '../../../../../plugins/guest/generic/dev/uart/uart_ns8250.js';
import { I8254 } from '../../../../../plugins/guest/generic/dev/attimer/i8254.js';
import { atrtcGetTime } from '../../../../../plugins/guest/generic/dev/atrtc/atrtc.js';
import { APIC_TIMER_INT, LocalApicDriver } from '../../../../../plugins/guest/generic/x86/local_apic.js';
import { IntrVectors } from '../../../../../plugins/guest/generic/x86/intr.js';
import { IoApicDriver, IsaInterrupts, isaRoute } from '../../../../../plugins/guest/generic/x86/io_apic.js';
import { IOART_INTALO, IOART_INTMASK, IOART_TRGRLVL } from '../../../../../plugins/guest/generic/x86/apicreg.js';

describe('PCI configuration mechanism #1', () => {
  it('finds the host bridge and the Xen platform device and sizes its BARs without disturbing them', () => {
    const hvm = new FakeHvm({ platformDevice: true });
    const devices = hvm.run(pciEnumerate(hvm.v, 0)).value!;
    expect(devices.map((d) => [d.slot, d.vendor.toString(16), d.device])).toEqual([[0, '8086', 0x1237], [2, '5853', 1]]);
    const xp = devices[1]!;
    expect([xp.baseclass, xp.subclass, xp.intpin, xp.intline]).toEqual([0xff, 0x80, 1, 11]);
    expect(xp.bars).toEqual([
      { index: 0, kind: 'io', base: 0xc000, size: 0x100, prefetchable: false },
      { index: 1, kind: 'mmio', base: 0xf000_0000, size: 0x100_0000, prefetchable: true },
    ]);
    const f = hvm.pci.functions.get('2.0')!;
    expect([f.read(0x10, 4), f.read(0x14, 4), f.read(4, 2)]).toEqual([0xc001, 0xf000_0008, 3]);
  });
});

describe('xenpci unplug protocol', () => {
  it('registers product and build, then unplugs disks and NICs on protocol 1', () => {
    const hvm = new FakeHvm({ platformDevice: true });
    const r = hvm.run(xenUnplugEmulatedDevices(hvm.v, 0x3, 0x100)).value;
    expect(r).toEqual({ unplugged: 3, protocol: 1 });
    expect(hvm.unplug.writes).toEqual([{ port: 0x12, size: 2, value: 0xffff }, { port: 0x10, size: 4, value: 0x100 }, { port: 0x10, size: 2, value: 3 }]);
  });

  it('skips registration on protocol 0 and does nothing without the magic', () => {
    const v0 = new FakeHvm({ platformDevice: true, unplugVersion: 0 });
    v0.run(xenUnplugEmulatedDevices(v0.v, 0x3, 0x100));
    expect(v0.unplug.writes).toEqual([{ port: 0x10, size: 2, value: 3 }]);
    const none = new FakeHvm();
    expect(none.run(xenUnplugEmulatedDevices(none.v, 0x3, 0x100)).value).toEqual({ skipped: 'no unplug protocol (magic 0xffff at port 0x10)' });
  });
});

describe('ns8250 console', () => {
  it('probes a 16550A, prints, and receives typed bytes through IRQ4 → IO-APIC pin 4 → its vector', () => {
    const hvm = new FakeHvm();
    const uart = new Ns8250(hvm.v);
    const lapic = new LocalApicDriver(hvm.v);
    const intr = new IntrVectors(hvm.v, () => lapic.eoi());
    const ioapic = new IoApicDriver(hvm.v);
    const isa = new IsaInterrupts(ioapic, intr, 0);
    const got: string[] = [];
    hvm.run((function* () {
      yield* lapic.setup();
      expect(yield* ioapic.attach()).toBe('Version 1.1 irqs 0-23');
      expect(yield* uart.probe()).toBe(true);
      yield* uart.init();
      uart.write('hello\n');
      yield* uart.drain();
      yield* isa.setup(4, { name: 'irq4: uart0', *handle() { got.push(new TextDecoder().decode(yield* uart.intr())); } });
    })());
    expect(uart.model).toBe('16550A');
    expect(hvm.uart.tx).toBe('hello\n');
    hvm.uart.type('ls\r');
    expect(hvm.lapic.pendingVector).toBe(isa.vectorOf(4));
    hvm.run(intr.serve());
    expect(got).toEqual(['ls\r']);
    expect(hvm.lapic.pendingVector).toBeUndefined();
    expect(intr.count(isa.vectorOf(4))).toBe(1);
  });
});

describe('IO-APIC routing of ISA IRQs', () => {
  it('follows the MADT interrupt source overrides: pin, polarity and trigger mode', () => {
    // hvmloader's overrides: IRQ0 on GSI 2 (conforming), its PCI IRQs level-triggered active high (0xd); one active-low level for the polarity.
    const overrides = [{ source: 0, gsi: 2, flags: 0 }, { source: 10, gsi: 10, flags: 0xd }, { source: 9, gsi: 9, flags: 0xf }];
    const hvm = new FakeHvm();
    const lapic = new LocalApicDriver(hvm.v);
    const intr = new IntrVectors(hvm.v, () => lapic.eoi());
    const ioapic = new IoApicDriver(hvm.v);
    ioapic.useOverrides(overrides);
    const isa = new IsaInterrupts(ioapic, intr, 0);
    const entries = hvm.run((function* () {
      yield* lapic.setup();
      yield* ioapic.attach();
      for (const irq of [0, 4, 9, 10]) yield* isa.setup(irq, { name: `irq${irq}`, *handle() {} });
      return [yield* ioapic.entry(2), yield* ioapic.entry(4), yield* ioapic.entry(9), yield* ioapic.entry(10), yield* ioapic.entry(0)];
    })()).value!;
    const modes = entries.map((e) => [e & 0xff, (e & IOART_TRGRLVL) !== 0 ? 'level' : 'edge', (e & IOART_INTALO) !== 0 ? 'low' : 'high', (e & IOART_INTMASK) !== 0]);
    expect(modes).toEqual([
      [isa.vectorOf(0), 'edge', 'high', false],
      [isa.vectorOf(4), 'edge', 'high', false],
      [isa.vectorOf(9), 'level', 'low', false],
      [isa.vectorOf(10), 'level', 'high', false],
      [0, 'edge', 'high', true], // pin 0 is not IRQ0's: left masked
    ]);
  });

  it('puts IRQ0 on pin 2 and every other IRQ on its own pin without a MADT, and refuses a non-ISA IRQ', () => {
    expect(isaRoute(0)).toEqual({ pin: 2, bits: 0 });
    expect(isaRoute(14)).toEqual({ pin: 14, bits: 0 });
    expect(isaRoute(0, [])).toEqual({ pin: 0, bits: 0 });
    expect(() => isaRoute(16)).toThrow(/not an ISA IRQ/);
  });
});

describe('LAPIC timer', () => {
  it('calibrates against the i8254, fires once after the programmed time, and is EOIed', () => {
    const hvm = new FakeHvm();
    const lapic = new LocalApicDriver(hvm.v);
    const pit = new I8254(hvm.v);
    const intr = new IntrVectors(hvm.v, () => lapic.eoi());
    let fired = 0;
    intr.bind(APIC_TIMER_INT, { name: 'timer', *handle() { fired++; } });
    hvm.run((function* () {
      yield* pit.init();
      yield* lapic.setup();
      yield* lapic.calibrate((us) => pit.delay(us), 2000);
    })());
    // The core's LAPIC counts at 100 MHz / 2.
    expect(Math.abs(lapic.timerHz - 50e6) / 50e6).toBeLessThan(0.02);
    const armedAt = hvm.engine.now;
    const r = hvm.run((function* () {
      yield* lapic.timerOneShot(1e6);
      yield* intr.halt();
      return hvm.engine.now;
    })());
    expect(fired).toBe(1);
    expect(r.value! - armedAt).toBeGreaterThanOrEqual(1e6);
    expect(r.value! - armedAt).toBeLessThan(1.05e6);
    expect(hvm.lapic.isr.highest()).toBe(-1);
    // One-shot: nothing more comes.
    expect(hvm.run(intr.halt(), 10e6).state).toBe('idle');
  });
});

describe('MC146818', () => {
  it('reads the BCD time', () => {
    const hvm = new FakeHvm();
    const t = hvm.run(atrtcGetTime(hvm.v)).value!;
    expect(new Date(t * 1000).toISOString()).toBe('2024-05-17T13:45:30.000Z');
  });
});

import { describe, expect, it } from 'vitest';
import {
  APIC_DFR, APIC_ESR, APIC_ICR, APIC_ICR2, APIC_LDR, APIC_TASKPRI, APIC_BASE_ENABLE, APIC_BASE_EXTD, APIC_DEFAULT_PHYS_BASE,
  ApicBus, LocalApic, lowestPriority,
} from '../../../core/apic/index.js';
import { Engine } from '../../../core/engine/index.js';
import { machine, vectors, type TestMachine } from './machine.js';

const LOGICAL = 1 << 11;
const LEVEL_ASSERT = 1 << 14;
const LEVEL_TRIGGER = 1 << 15;
const shorthand = (s: number) => s << 18;
const mode = (m: number) => m << 8;

function send(m: TestMachine, from: number, low: number, dest = 0): void {
  const apic = m.apics[from]!;
  apic.writeRegister(APIC_ICR2, dest << 24);
  apic.writeRegister(APIC_ICR, low);
}

/** Which APICs have `vector` requested. */
function receivers(m: TestMachine, vector: number): number[] {
  return m.apics.filter((a) => a.irr.has(vector)).map((a) => a.apicId);
}

describe('IPIs through the ICR', () => {
  it('sends a fixed IPI to one APIC by physical ID', () => {
    const m = machine(4);
    send(m, 0, 0x40, 2);
    expect(receivers(m, 0x40)).toEqual([2]);
    expect(m.apics[2]!.pendingVector).toBe(0x40);
    expect(m.events[2]).toEqual(['interrupt']);
  });

  it('honours the destination shorthands', () => {
    const m = machine(4);
    send(m, 1, shorthand(1) | 0x41, 3);
    expect(receivers(m, 0x41)).toEqual([1]);
    send(m, 1, shorthand(2) | 0x42);
    expect(receivers(m, 0x42)).toEqual([0, 1, 2, 3]);
    send(m, 1, shorthand(3) | 0x43);
    expect(receivers(m, 0x43)).toEqual([0, 2, 3]);
  });

  it('broadcasts to physical destination 0xFF', () => {
    const m = machine(3);
    send(m, 0, 0x44, 0xff);
    expect(receivers(m, 0x44)).toEqual([0, 1, 2]);
  });

  it('matches logical destinations in the flat model', () => {
    const m = machine(4);
    m.apics.forEach((a, i) => a.writeRegister(APIC_LDR, (1 << i) << 24));
    send(m, 0, LOGICAL | 0x45, 0b1010);
    expect(receivers(m, 0x45)).toEqual([1, 3]);
  });

  it('matches logical destinations in the cluster model', () => {
    const m = machine(4);
    const ldrs = [0x11, 0x12, 0x21, 0x22];
    m.apics.forEach((a, i) => {
      a.writeRegister(APIC_DFR, 0x0fff_ffff);
      a.writeRegister(APIC_LDR, ldrs[i]! << 24);
    });
    send(m, 0, LOGICAL | 0x46, 0x13);
    expect(receivers(m, 0x46)).toEqual([0, 1]);
    send(m, 0, LOGICAL | 0x47, 0x22);
    expect(receivers(m, 0x47)).toEqual([3]);
  });

  it('gives a lowest-priority interrupt to the lowest PPR, ties to the lowest APIC ID, or to the focus processor', () => {
    const m = machine(3);
    m.apics[0]!.writeRegister(APIC_TASKPRI, 0x30);
    m.apics[1]!.writeRegister(APIC_TASKPRI, 0x10);
    m.apics[2]!.writeRegister(APIC_TASKPRI, 0x10);
    send(m, 0, mode(1) | shorthand(2) | 0x50);
    expect(receivers(m, 0x50)).toEqual([1]);
    send(m, 0, mode(1) | shorthand(2) | 0x50);
    expect(receivers(m, 0x50)).toEqual([1]);
    m.apics[0]!.acceptInterrupt(0x60, false);
    expect(lowestPriority(m.apics, 0x60)).toBe(m.apics[0]);
  });

  it('reports NMI, INIT and start-up to the CPU layer; INIT resets the target APIC', () => {
    const m = machine(2);
    m.apics[1]!.writeRegister(APIC_TASKPRI, 0x20);
    send(m, 0, mode(4), 1);
    send(m, 0, mode(5) | LEVEL_ASSERT | LEVEL_TRIGGER, 1);
    expect(m.apics[1]!.tpr).toBe(0);
    expect(m.apics[1]!.softwareEnabled).toBe(false);
    send(m, 0, mode(5) | LEVEL_TRIGGER, 1); // INIT level de-assert: ignored
    send(m, 0, mode(6) | 0x9a, 1);
    send(m, 0, mode(6) | 0x9a, 1);
    expect(m.events[1]).toEqual(['nmi', 'init', 'startup 0x9a', 'startup 0x9a']);
    expect(m.events[0]).toEqual([]);
  });

  it('sends INIT/SIPI to every AP with the all-excluding-self shorthand', () => {
    const m = machine(3);
    send(m, 0, mode(5) | LEVEL_ASSERT | shorthand(3));
    send(m, 0, mode(6) | 0x10 | shorthand(3));
    expect(m.events.map((e) => e.join(','))).toEqual(['', 'init,startup 0x10', 'init,startup 0x10']);
  });

  it('refuses to send an illegal vector and latches the send error', () => {
    const m = machine(2);
    send(m, 0, 0x0e, 1);
    expect(vectors(m.apics[1]!.irr)).toEqual([]);
    m.apics[0]!.writeRegister(APIC_ESR, 0);
    expect(m.apics[0]!.readRegister(APIC_ESR)).toBe(0x20);
  });

  it('keeps the delivery-status bit set until a delayed IPI arrives', () => {
    const m = machine(2, { ipiLatencyNs: 700 });
    send(m, 0, 0x40, 1);
    expect(m.apics[0]!.readRegister(APIC_ICR) & (1 << 12)).not.toBe(0);
    expect(receivers(m, 0x40)).toEqual([]);
    m.engine.runUntil(700);
    expect(receivers(m, 0x40)).toEqual([1]);
    expect(m.apics[0]!.readRegister(APIC_ICR)).toBe(0x40);
  });

  it('addresses 32-bit destinations from the x2APIC ICR', () => {
    const engine = new Engine();
    const bus = new ApicBus();
    const apics = [0, 0x123].map((id) => {
      const a = new LocalApic(engine, { apicId: id });
      bus.attach(a);
      a.writeMsr(0x1b, BigInt(APIC_DEFAULT_PHYS_BASE + APIC_BASE_ENABLE + APIC_BASE_EXTD));
      a.writeMsr(0x80f, 0x1ffn);
      return a;
    });
    apics[0]!.writeMsr(0x830, (0x123n << 32n) | 0x61n);
    expect(apics[1]!.pendingVector).toBe(0x61);
    // Logical cluster 0x12, member bit 3 is APIC 0x123.
    apics[0]!.writeMsr(0x830, (((0x12n << 16n) | 0x8n) << 32n) | BigInt(LOGICAL | 0x62));
    expect(apics[1]!.irr.has(0x62)).toBe(true);
    expect(apics[0]!.irr.has(0x62)).toBe(false);
    expect(apics[0]!.readMsr(0x830)).toBe((((0x12n << 16n) | 0x8n) << 32n) | BigInt(LOGICAL | 0x62));
  });

  it('rejects two APICs with one ID on a bus', () => {
    const engine = new Engine();
    const bus = new ApicBus();
    bus.attach(new LocalApic(engine, { apicId: 1, name: 'cpu0' }));
    expect(() => bus.attach(new LocalApic(engine, { apicId: 1, name: 'cpu1' }))).toThrow('apic bus: cpu1 has APIC ID 1, already used by cpu0');
  });
});

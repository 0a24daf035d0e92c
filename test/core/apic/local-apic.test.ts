import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine } from '../../../core/engine/index.js';
import {
  APIC_DFR, APIC_EOI, APIC_ESR, APIC_ID, APIC_ISR, APIC_LDR, APIC_LVR, APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_LVTT,
  APIC_PROCPRI, APIC_SPIV, APIC_TASKPRI, APIC_TMR, APIC_BASE_ENABLE, APIC_BASE_EXTD, APIC_DEFAULT_PHYS_BASE, LocalApic,
} from '../../../core/apic/index.js';
import { HardwareError } from '../../../core/api/errors.js';
import { machine, vectors } from './machine.js';

describe('LocalApic reset state', () => {
  it('comes up software-disabled with every LVT masked, as SDM 11.4.7.1 says', () => {
    const apic = new LocalApic(new Engine(), { apicId: 3, bsp: true });
    expect(apic.readRegister(APIC_ID)).toBe(0x0300_0000);
    expect(apic.readRegister(APIC_LVR)).toBe(0x0005_0014);
    expect(apic.readRegister(APIC_DFR)).toBe(0xffff_ffff);
    expect(apic.readRegister(APIC_SPIV)).toBe(0xff);
    expect(apic.softwareEnabled).toBe(false);
    for (const lvt of [APIC_LVTT, APIC_LVT0, APIC_LVT1, APIC_LVTERR]) expect(apic.readRegister(lvt)).toBe(0x1_0000);
    expect(apic.apicBase).toBe(APIC_DEFAULT_PHYS_BASE + 0x900);
  });

  it('drops fixed interrupts while software-disabled and keeps LVTs masked', () => {
    const apic = new LocalApic(new Engine(), { apicId: 0 });
    const fixed = { vector: 0x40, deliveryMode: 0, logical: false, dest: 0, level: false } as const;
    apic.accept(fixed);
    expect(apic.irr.has(0x40)).toBe(false);
    apic.writeRegister(APIC_LVTT, 0x30);
    expect(apic.readRegister(APIC_LVTT)).toBe(0x1_0030);
    apic.writeRegister(APIC_SPIV, 0x1ff);
    apic.accept(fixed);
    expect(apic.pendingVector).toBe(0x40);
    apic.writeRegister(APIC_LVTT, 0x30);
    expect(apic.readRegister(APIC_LVTT)).toBe(0x30);
  });
});

describe('LocalApic priorities', () => {
  it('delivers the highest IRR vector and holds lower classes until EOI', () => {
    const { apics } = machine(1);
    const apic = apics[0]!;
    apic.acceptInterrupt(0x31, false);
    apic.acceptInterrupt(0x52, false);
    expect(apic.pendingVector).toBe(0x52);
    expect(apic.acknowledge()).toBe(0x52);
    expect(apic.ppr).toBe(0x50);
    expect(apic.pendingVector).toBeUndefined();
    apic.writeRegister(APIC_EOI, 0);
    expect(apic.acknowledge()).toBe(0x31);
  });

  it('blocks a vector of the same class as the one in service', () => {
    const { apics } = machine(1);
    const apic = apics[0]!;
    apic.acceptInterrupt(0x55, false);
    apic.acknowledge();
    apic.acceptInterrupt(0x57, false);
    expect(apic.pendingVector).toBeUndefined();
    apic.acceptInterrupt(0x61, false);
    expect(apic.pendingVector).toBe(0x61);
  });

  it('computes PPR from TPR and the highest in-service class', () => {
    const { apics } = machine(1);
    const apic = apics[0]!;
    apic.writeRegister(APIC_TASKPRI, 0x43);
    expect(apic.readRegister(APIC_PROCPRI)).toBe(0x43);
    apic.acceptInterrupt(0x35, false);
    expect(apic.pendingVector).toBeUndefined();
    apic.tpr = 0x23;
    expect(apic.acknowledge()).toBe(0x35);
    expect(apic.readRegister(APIC_PROCPRI)).toBe(0x30);
  });

  it('delivers a vector exactly when its class is above the PPR class (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 255 }), fc.option(fc.integer({ min: 16, max: 255 })), (tpr, vector, inService) => {
        const { apics } = machine(1);
        const apic = apics[0]!;
        if (inService !== null) {
          apic.acceptInterrupt(inService, false);
          apic.acknowledge();
        }
        apic.tpr = tpr;
        const isrv = inService ?? 0;
        const ppr = (tpr & 0xf0) >= (isrv & 0xf0) ? tpr : isrv & 0xf0;
        expect(apic.ppr).toBe(inService !== null && inService >> 4 > tpr >> 4 ? inService & 0xf0 : tpr);
        apic.acceptInterrupt(vector, false);
        const deliverable = (vector & 0xf0) > (ppr & 0xf0);
        expect(apic.pendingVector).toBe(deliverable ? vector : undefined);
      }),
    );
  });

  it('returns the spurious vector when asked to acknowledge with nothing deliverable', () => {
    const { apics } = machine(1);
    apics[0]!.writeRegister(APIC_SPIV, 0x1ef);
    expect(apics[0]!.acknowledge()).toBe(0xef);
    expect(vectors(apics[0]!.isr)).toEqual([]);
  });

  it('clears in-service vectors highest first on EOI', () => {
    const { apics } = machine(1);
    const apic = apics[0]!;
    apic.acceptInterrupt(0x40, false);
    apic.acknowledge();
    apic.acceptInterrupt(0x60, false);
    apic.acknowledge();
    expect(apic.readRegister(APIC_ISR + 0x20)).toBe((1 << 0) | 0);
    expect(apic.readRegister(APIC_ISR + 0x30)).toBe(1);
    expect(vectors(apic.isr)).toEqual([0x40, 0x60]);
    apic.eoi();
    expect(vectors(apic.isr)).toEqual([0x40]);
    apic.eoi();
    expect(vectors(apic.isr)).toEqual([]);
  });

  it('reports "interrupt" when a vector becomes deliverable, including after an EOI unblocks one', () => {
    const { apics, events } = machine(1);
    const apic = apics[0]!;
    apic.acceptInterrupt(0x50, false);
    apic.acceptInterrupt(0x51, false);
    expect(events[0]).toEqual(['interrupt']);
    expect(apic.acknowledge()).toBe(0x51);
    apic.acceptInterrupt(0x41, false);
    expect(events[0]).toEqual(['interrupt']);
    apic.eoi();
    expect(events[0]).toEqual(['interrupt', 'interrupt']);
    expect(apic.acknowledge()).toBe(0x50);
    apic.eoi();
    expect(events[0]).toEqual(['interrupt', 'interrupt', 'interrupt']);
    expect(apic.acknowledge()).toBe(0x41);
  });

  it('sets TMR for level-triggered vectors and broadcasts their EOI on the bus', () => {
    const { apics, bus } = machine(1);
    const apic = apics[0]!;
    const eois: number[] = [];
    bus.events.on('eoi', (v) => eois.push(v));
    apic.acceptInterrupt(0x70, true);
    apic.acceptInterrupt(0x60, false);
    expect(apic.readRegister(APIC_TMR + 0x30)).toBe(1 << 16);
    apic.acknowledge();
    apic.eoi();
    apic.acknowledge();
    apic.eoi();
    expect(eois).toEqual([0x70]);
  });

  it('latches an illegal vector in ESR on the next ESR write and raises the LVT error vector', () => {
    const { apics } = machine(1);
    const apic = apics[0]!;
    apic.writeRegister(APIC_LVTERR, 0xfe);
    apic.acceptInterrupt(0x05, false);
    expect(apic.irr.has(0x05)).toBe(false);
    expect(apic.readRegister(APIC_ESR)).toBe(0);
    apic.writeRegister(APIC_ESR, 0);
    expect(apic.readRegister(APIC_ESR)).toBe(0x40);
    expect(apic.pendingVector).toBe(0xfe);
    apic.writeRegister(APIC_ESR, 0);
    expect(apic.readRegister(APIC_ESR)).toBe(0);
  });
});

describe('LocalApic registers', () => {
  it('keeps only the architectural bits of LDR and DFR', () => {
    const { apics } = machine(1);
    const apic = apics[0]!;
    apic.writeRegister(APIC_LDR, 0x1234_5678);
    apic.writeRegister(APIC_DFR, 0x0000_0000);
    expect(apic.readRegister(APIC_LDR)).toBe(0x1200_0000);
    expect(apic.readRegister(APIC_DFR)).toBe(0x0fff_ffff);
  });

  it('serves narrow MMIO reads and merges narrow writes', () => {
    const { apics } = machine(1);
    const mmio = apics[0]!.mmio;
    mmio.write(APIC_TASKPRI, 4, 0x5a);
    expect(mmio.read(APIC_TASKPRI, 1)).toBe(0x5a);
    expect(mmio.read(APIC_TASKPRI + 4, 4)).toBe(0);
    mmio.write(APIC_LDR + 3, 1, 0x80);
    expect(mmio.read(APIC_LDR, 4)).toBe(0x8000_0000);
    expect(mmio.read(APIC_LDR + 2, 2)).toBe(0x8000);
  });

  it('delivers LINT pins per their LVT entries on a rising edge', () => {
    const { apics, events } = machine(1);
    const apic = apics[0]!;
    apic.writeRegister(APIC_LVT0, 0x700);
    apic.writeRegister(APIC_LVT1, 0x400);
    apic.setLint(1, true);
    apic.setLint(1, true);
    apic.setLint(0, true);
    apic.setLint(1, false);
    apic.setLint(1, true);
    expect(events[0]).toEqual(['nmi', 'extint', 'nmi']);
    apic.writeRegister(APIC_LVT1, 0x1_0400);
    apic.setLint(1, false);
    apic.setLint(1, true);
    expect(events[0]).toHaveLength(3);
  });

  it('resets when IA32_APIC_BASE.EN is cleared and ignores everything while hardware-disabled', () => {
    const { apics } = machine(1);
    const apic = apics[0]!;
    apic.tpr = 0x20;
    apic.apicBase = APIC_DEFAULT_PHYS_BASE;
    expect(apic.tpr).toBe(0);
    expect(apic.hardwareEnabled).toBe(false);
    apic.accept({ vector: 0x40, deliveryMode: 0, logical: false, dest: 0, level: false });
    expect(apic.irr.has(0x40)).toBe(false);
  });
});

describe('LocalApic x2APIC MSRs', () => {
  function x2apic(id = 0x23) {
    const { apics, bus } = machine(1, {}, { apicId: id });
    const apic = apics[0]!;
    apic.writeMsr(0x1b, BigInt(APIC_DEFAULT_PHYS_BASE + APIC_BASE_ENABLE + APIC_BASE_EXTD));
    return { apic, bus };
  }

  it('refuses x2APIC MSRs in xAPIC mode with a #GP', () => {
    const { apics } = machine(1);
    expect(() => apics[0]!.readMsr(0x802)).toThrow(HardwareError);
    expect(() => apics[0]!.readMsr(0x802)).toThrow(/x2APIC mode is off/);
  });

  it('reads the 32-bit ID and the LDR derived from it', () => {
    const { apic } = x2apic(0x23);
    expect(apic.readMsr(0x802)).toBe(0x23n);
    expect(apic.readMsr(0x80d)).toBe((2n << 16n) | (1n << 3n));
    expect(apic.readMsr(0x803)).toBe(0x50014n);
  });

  it('has no DFR, APR or ICR2 and takes only zero in EOI', () => {
    const { apic } = x2apic();
    for (const msr of [0x80e, 0x809, 0x831]) expect(() => apic.readMsr(msr)).toThrow(/not a readable/);
    expect(() => apic.writeMsr(0x802, 1n)).toThrow(/not a writable/);
    expect(() => apic.writeMsr(0x80b, 1n)).toThrow(/EOI takes 0/);
  });

  it('sends a self IPI through MSR 0x83F and reads TPR/ISR as MSRs', () => {
    const { apic } = x2apic();
    apic.writeMsr(0x808, 0x10n);
    apic.writeMsr(0x83f, 0x45n);
    expect(apic.acknowledge()).toBe(0x45);
    expect(apic.readMsr(0x812)).toBe(1n << 5n);
    expect(apic.readMsr(0x808)).toBe(0x10n);
    apic.writeMsr(0x80b, 0n);
    expect(apic.readMsr(0x812)).toBe(0n);
  });

  it('refuses to leave x2APIC mode without disabling first', () => {
    const { apic } = x2apic();
    expect(() => apic.writeMsr(0x1b, BigInt(APIC_DEFAULT_PHYS_BASE + APIC_BASE_ENABLE))).toThrow(/without disabling/);
  });
});

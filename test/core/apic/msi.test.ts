import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { APIC_LDR, DeliveryMode, createMsiSender, decodeMsi, deliverMsi, encodeMsi, type MsiFields } from '../../../core/apic/index.js';
import { HardwareError } from '../../../core/api/errors.js';
import { machine } from './machine.js';

const msiFields = fc.record<MsiFields>({
  dest: fc.integer({ min: 0, max: 0xff }),
  redirectionHint: fc.boolean(),
  logical: fc.boolean(),
  vector: fc.integer({ min: 0, max: 0xff }),
  deliveryMode: fc.constantFrom(DeliveryMode.Fixed, DeliveryMode.LowestPriority, DeliveryMode.Smi, DeliveryMode.Nmi, DeliveryMode.Init),
  assert: fc.boolean(),
  level: fc.boolean(),
});

describe('MSI', () => {
  it('decodes what it encodes (property)', () => {
    fc.assert(
      fc.property(msiFields, (fields) => {
        const message = encodeMsi(fields);
        expect(message.address >>> 20).toBe(0xfee);
        expect(decodeMsi(message)).toEqual(fields);
      }),
    );
  });

  it('decodes the fields Linux writes', () => {
    expect(decodeMsi({ address: 0xfee0_300c, data: 0x4123 })).toEqual({
      dest: 3,
      redirectionHint: true,
      logical: true,
      vector: 0x23,
      deliveryMode: DeliveryMode.LowestPriority,
      assert: true,
      level: false,
    });
  });

  it('rejects an address outside the interrupt window and reserved delivery modes', () => {
    expect(() => decodeMsi({ address: 0xfed0_0000, data: 0x30 })).toThrow(HardwareError);
    expect(() => decodeMsi({ address: 0xfed0_0000, data: 0x30 })).toThrow('msi: address 0xfed00000 is outside the interrupt window 0xfee00000-0xfeefffff');
    expect(() => decodeMsi({ address: 0x1_fee0_0000, data: 0x30 })).toThrow(/outside the interrupt window/);
    expect(() => decodeMsi({ address: 0xfee0_0000, data: 0x330 })).toThrow('msi: data 0x00000330 has reserved delivery mode 3');
  });

  it('delivers to the addressed APIC, physical or logical', () => {
    const m = machine(3);
    deliverMsi(m.bus, encodeMsi({ dest: 2, redirectionHint: false, logical: false, vector: 0x70, deliveryMode: 0, assert: false, level: false }));
    expect(m.apics[2]!.pendingVector).toBe(0x70);
    m.apics.forEach((a, i) => a.writeRegister(APIC_LDR, (1 << i) << 24));
    const sender = createMsiSender(m.bus);
    sender.send(encodeMsi({ dest: 0b011, redirectionHint: false, logical: true, vector: 0x71, deliveryMode: 0, assert: false, level: false }));
    expect(m.apics.map((a) => a.irr.has(0x71))).toEqual([true, true, false]);
    sender.send(encodeMsi({ dest: 0b110, redirectionHint: true, logical: true, vector: 0x72, deliveryMode: 1, assert: false, level: false }));
    expect(m.apics.map((a) => a.irr.has(0x72))).toEqual([false, true, false]);
    sender.send({ address: 0xfee0_0000, data: 0x400 });
    expect(m.events[0]).toContain('nmi');
  });
});

/**
 * The reference kernel's ACPI table reader against the firmware's tables: the RSDP scan, the checksum
 * checks (a corrupt table is named and left out), the XSDT/RSDT walk, the MADT and FADT decoded; and the
 * native AP start-up's CPU count from the MADT, capped by MAXCPU.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildAcpiTables, type AcpiTables } from '../../../../plugins/guest-modes/hvm/index.js';
import { describeAcpiTables, findRsdp, readAcpiTables, type PhysRead } from '../../../../plugins/guest/generic/dev/acpi/tables.js';
import { NativeMachine, nativeApStart } from '../../../../plugins/guest/generic/x86/native_hooks.js';
import { LocalApicDriver } from '../../../../plugins/guest/generic/x86/local_apic.js';
import { IntrVectors } from '../../../../plugins/guest/generic/x86/intr.js';
import { I8254 } from '../../../../plugins/guest/generic/dev/attimer/i8254.js';
import type { Kernel } from '../../../../plugins/guest/generic/kern/kernel.js';
import { FakeHvm } from './native/platform.js';

/** The BIOS area (0xE0000–0xFFFFF) with `t` written in, as guest memory. */
function biosWith(t: AcpiTables): { mem: Uint8Array; read: PhysRead } {
  const mem = new Uint8Array(0x10_0000);
  mem.set(t.bytes, t.base);
  return { mem, read: (addr, length) => mem.slice(addr, addr + length) };
}

describe('the kernel reads the firmware ACPI tables', () => {
  it('finds the RSDP at 0xEA020, walks the XSDT and decodes the MADT and FADT', () => {
    const t = buildAcpiTables({ nrVcpus: 4, online: (v) => v < 3 });
    const { read } = biosWith(t);
    expect(findRsdp(read)).toBe(0xea020);
    const found = readAcpiTables(read)!;
    expect(found.rsdp).toEqual({ address: 0xea020, revision: 2, oemId: 'Xen' });
    expect(found.root.signature).toBe('XSDT');
    expect(found.tables.map((x) => x.signature)).toEqual(['FACP', 'APIC']);
    expect(found.skipped).toEqual([]);
    const madt = found.madt!;
    expect(madt.id).toMatchObject({ oemId: 'Xen', oemTableId: 'HVM', revision: 2 });
    expect(madt.lapicAddress).toBe(0xfee00000);
    expect(madt.pcatCompat).toBe(true);
    expect(madt.lapics).toEqual([
      { processorId: 0, apicId: 0, enabled: true },
      { processorId: 1, apicId: 2, enabled: true },
      { processorId: 2, apicId: 4, enabled: true },
      { processorId: 3, apicId: 6, enabled: false },
    ]);
    expect(madt.ioApics).toEqual([{ id: 1, address: 0xfec00000, gsiBase: 0 }]);
    expect(madt.overrides[0]).toEqual({ source: 0, gsi: 2, flags: 0 });
    expect(found.fadt).toMatchObject({ sciInt: 9, pm1aEvtBlk: 0xb000, pm1aCntBlk: 0xb004, pmTmrBlk: 0xb008, gpe0Blk: 0xafe0, dsdt: t.tables.DSDT });
    const log = describeAcpiTables(found);
    expect(log[0]).toBe('ACPI: RSDP 0xea020 (v02 Xen)');
    expect(log).toContainEqual(expect.stringMatching(/^ACPI: APIC 0x00000000000EA[0-9A-F]{3} 000080 \(v02 Xen    HVM     \)$/));
  });

  it('round-trips any vCPU count and online set through the MADT', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 128 }), fc.array(fc.boolean(), { minLength: 128, maxLength: 128 }), (n, online) => {
        const found = readAcpiTables(biosWith(buildAcpiTables({ nrVcpus: n, online: (v) => online[v]! })).read)!;
        expect(found.madt!.lapics).toEqual(Array.from({ length: n }, (_, i) => ({ processorId: i, apicId: 2 * i, enabled: online[i]! })));
      }),
      { numRuns: 40 },
    );
  });

  it('without an RSDP there are no tables; a corrupt table is named and left out; a bad root or RSDP is an error', () => {
    expect(readAcpiTables(() => new Uint8Array(0x20000))).toBeUndefined();
    const t = buildAcpiTables({ nrVcpus: 2, online: () => true });
    const bad = biosWith(t);
    bad.mem[t.tables.APIC + 9]! ^= 0xff;
    const found = readAcpiTables(bad.read)!;
    expect(found.madt).toBeUndefined();
    expect(found.fadt).toBeDefined();
    expect(found.skipped).toEqual([expect.stringMatching(new RegExp(`^acpi: APIC at 0x${t.tables.APIC.toString(16)}: bad checksum`))]);
    const badRoot = biosWith(t);
    badRoot.mem[t.tables.XSDT + 40]! ^= 1;
    expect(() => readAcpiTables(badRoot.read)).toThrow(/XSDT at 0x[0-9a-f]+: bad checksum/);
    const badRsdp = biosWith(t);
    badRsdp.mem[t.rsdp + 32]! ^= 1;
    expect(() => readAcpiTables(badRsdp.read)).toThrow(/RSDP at 0xea020: bad extended checksum/);
    // A first-20-bytes checksum that fails: not an RSDP at all.
    const noRsdp = biosWith(t);
    noRsdp.mem[t.rsdp + 8]! ^= 1;
    expect(findRsdp(noRsdp.read)).toBeUndefined();
  });

  it('native AP start-up counts the MADT\'s enabled processors, capped by MAXCPU, and INIT-SIPIs their APIC IDs', () => {
    const hvm = new FakeHvm();
    const lapic = new LocalApicDriver(hvm.v);
    const m = new NativeMachine(lapic, new IntrVectors(hvm.v, () => lapic.eoi()), new I8254(hvm.v), 0);
    const hooks = nativeApStart(m);
    const k = { apEntry: 0x9000 } as Kernel;
    expect(hooks.countCpus(k, 32)).toBe(1);
    m.useMadt(readAcpiTables(biosWith(buildAcpiTables({ nrVcpus: 4, online: (v) => v !== 2 })).read)!.madt!);
    expect(hooks.countCpus(k, 32)).toBe(3);
    expect(hooks.countCpus(k, 2)).toBe(2);
    expect([0, 1, 2].map((id) => m.apicIdOf(id))).toEqual([0, 2, 6]);
    expect(() => m.apicIdOf(3)).toThrow(/no CPU 3 in the MADT/);
  });
});

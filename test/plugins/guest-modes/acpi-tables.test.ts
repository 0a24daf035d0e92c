/**
 * The HVM firmware's ACPI tables: every checksum, the MADT's entries for 1, 2 and 4 vCPUs, hvmloader's
 * layout, and — against ACPICA's real disassembler, `iasl -d` (Debian's acpica-tools) — the tables
 * dumped from a booted guest's memory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toolstack, type VcpuApi, type VcpuCoroutine } from '../../../core/api/index.js';
import { guestPhysAddr } from '../../../core/public/index.js';
import { buildAcpiTables, buildMadt, checksum8, type AcpiTables } from '../../../plugins/guest-modes/hvm/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from '../dom0/toolstack/harness.js';

const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const u64 = (b: Uint8Array, at: number): number => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));
const sig = (b: Uint8Array, at = 0, n = 4): string => Buffer.from(b.subarray(at, at + n)).toString('latin1');

/** The table at guest-physical `addr` of the block (its length from its header). */
function tableAt(t: AcpiTables, addr: number): Uint8Array {
  const off = addr - t.base;
  return t.bytes.subarray(off, off + u32(t.bytes, off + 4));
}

/** MADT entries decoded with the ACPI spec's offsets (type, length, then the type's fields). */
function madtEntries(madt: Uint8Array): { type: number; fields: number[] }[] {
  const out: { type: number; fields: number[] }[] = [];
  for (let at = 44; at < madt.length; at += madt[at + 1]!) {
    const type = madt[at]!;
    if (type === 0) out.push({ type, fields: [madt[at + 2]!, madt[at + 3]!, u32(madt, at + 4)] });
    else if (type === 1) out.push({ type, fields: [madt[at + 2]!, u32(madt, at + 4), u32(madt, at + 8)] });
    else if (type === 2) out.push({ type, fields: [madt[at + 3]!, u32(madt, at + 4), madt[at + 8]! | (madt[at + 9]! << 8)] });
    else out.push({ type, fields: [] });
  }
  return out;
}

describe('the firmware ACPI tables', () => {
  it('sets every checksum: each table sums to zero, the RSDP both over its first 20 bytes and over all 36', () => {
    for (const n of [1, 2, 4, 64, 128]) {
      const t = buildAcpiTables({ nrVcpus: n, online: () => true });
      for (const [name, addr] of Object.entries(t.tables)) {
        if (name === 'FACS') continue; // the FACS has no checksum
        expect(checksum8(tableAt(t, addr)), `${name} of ${n} vCPUs`).toBe(0);
      }
      const rsdp = t.bytes.subarray(t.rsdp - t.base, t.rsdp - t.base + 36);
      expect(sig(rsdp, 0, 8)).toBe('RSD PTR ');
      expect(checksum8(rsdp.subarray(0, 20))).toBe(0);
      expect(checksum8(rsdp)).toBe(0);
    }
  });

  it("sits where hvmloader puts it: RSDP at 0xEA020 (16-byte aligned, in the BIOS scan area), tables 16-aligned below 0xF0000", () => {
    const t = buildAcpiTables({ nrVcpus: 128, online: () => true });
    expect(t.rsdp).toBe(0xea020);
    expect(t.base + t.bytes.length).toBeLessThanOrEqual(0xf0000);
    for (const addr of Object.values(t.tables)) expect(addr % 16).toBe(0);
    expect(t.tables.FACS % 64).toBe(0);
    const rsdp = t.bytes.subarray(t.rsdp - t.base);
    expect(rsdp[15]).toBe(2);
    expect(u32(rsdp, 16)).toBe(t.tables.RSDT);
    expect(u64(rsdp, 24)).toBe(t.tables.XSDT);
    const xsdt = tableAt(t, t.tables.XSDT);
    expect([u64(xsdt, 36), u64(xsdt, 44)]).toEqual([t.tables.FACP, t.tables.APIC]);
    const rsdt = tableAt(t, t.tables.RSDT);
    expect([u32(rsdt, 36), u32(rsdt, 40)]).toEqual([t.tables.FACP, t.tables.APIC]);
    const fadt = tableAt(t, t.tables.FACP);
    expect([u32(fadt, 36), u32(fadt, 40)]).toEqual([t.tables.FACS, t.tables.DSDT]);
    // SCI_INT, PM1a_EVT, PM1a_CNT, PM_TMR, GPE0: Xen's V1 blocks.
    expect([fadt[46]! | (fadt[47]! << 8), u32(fadt, 56), u32(fadt, 64), u32(fadt, 76), u32(fadt, 80)]).toEqual([9, 0xb000, 0xb004, 0xb008, 0xafe0]);
  });

  it.each([1, 2, 4])('MADT for %i vCPUs: PCAT_COMPAT, the overrides, the IO-APIC, one enabled LAPIC per vCPU with APIC ID 2n', (n) => {
    const madt = buildMadt({ nrVcpus: n, online: () => true });
    expect(sig(madt)).toBe('APIC');
    expect(u32(madt, 36)).toBe(0xfee00000);
    expect(u32(madt, 40)).toBe(1);
    expect(madt.length).toBe(44 + 4 * 10 + 12 + n * 8);
    expect(madtEntries(madt)).toEqual([
      { type: 2, fields: [0, 2, 0] }, // IRQ0 → GSI 2, bus defaults
      { type: 2, fields: [5, 5, 0xf] }, // PCI IRQs: level, active low
      { type: 2, fields: [10, 10, 0xf] },
      { type: 2, fields: [11, 11, 0xf] },
      { type: 1, fields: [1, 0xfec00000, 0] },
      ...Array.from({ length: n }, (_, i) => ({ type: 0, fields: [i, 2 * i, 1] })),
    ]);
  });

  it('marks vCPUs that are not online at boot present but disabled, and refuses a count an xAPIC ID cannot hold', () => {
    const lapics = madtEntries(buildMadt({ nrVcpus: 4, online: (v) => v !== 2 })).filter((e) => e.type === 0);
    expect(lapics.map((e) => e.fields[2])).toEqual([1, 1, 0, 1]);
    expect(() => buildMadt({ nrVcpus: 0, online: () => true })).toThrow(/cannot describe 0 vCPUs/);
    expect(() => buildMadt({ nrVcpus: 129, online: () => true })).toThrow(/cannot describe 129 vCPUs/);
    expect(madtEntries(buildMadt({ nrVcpus: 128, online: () => true })).at(-1)).toEqual({ type: 0, fields: [127, 254, 1] });
  });
});

/** A kernel that only idles: the tables are read from its memory by the test. */
const IDLE = {
  name: 'acpi-probe',
  description: 'idles so its firmware tables can be read',
  types: ['hvm' as const],
  entry: () =>
    function* idle(v: VcpuApi): VcpuCoroutine {
      for (;;) yield v.block();
    },
};

/** `iasl -d file`: its stdout and stderr together, and the .dsl it wrote. */
function disassemble(file: string): { log: string; dsl: string } {
  const r = spawnSync('iasl', ['-d', file], { encoding: 'utf8' });
  if (r.error !== undefined) throw r.error;
  return { log: `${r.stdout}${r.stderr}`, dsl: readFileSync(file.replace(/\.dat$/, '.dsl'), 'utf8') };
}

function iasl(): string | undefined {
  try {
    return execFileSync('iasl', ['-v'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
}

describe('the tables in a booted guest, read by iasl -d', () => {
  let t: ToolstackHost;
  let dir: string;
  beforeAll(async () => {
    t = await bootToolstackHost({ modes: ['hvm', 'pvhvm'], plugins: ['device-model', 'uart16550', 'pit8254', 'rtc146818', 'xen-platform'], memoryMiB: 1024 });
    t.host.kernels.register(IDLE);
    dir = mkdtempSync(join(tmpdir(), 'xeno-acpi-'));
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds iasl (Debian: apt-get install acpica-tools)', () => {
    expect(iasl(), 'iasl is not installed: apt-get install -y --no-install-recommends acpica-tools').toMatch(/ACPI/);
  });

  it('disassembles the MADT, FADT and DSDT dumped from guest memory without errors; the MADT shows four processors, the fourth disabled', () => {
    const ts = t.host.plugins.resolveAll(Toolstack)[0]!;
    const job = settle(t.host, ts.create(guest('name="acpi"\ntype="hvm"\nkernel="acpi-probe"\nmemory=64\nvcpus=3\nmaxvcpus=4\nxen_platform_pci=0\n')));
    expect(job.error).toBeUndefined();
    const domid = job.result!.domid;
    t.host.engine.runFor(50e6);
    const mem = t.host.domains.get(domid)!.guestMemory;
    const read = (addr: number, length: number): Uint8Array => mem.read(guestPhysAddr(addr), length);
    // Find the RSDP as an OS does: "RSD PTR " on a 16-byte boundary of the BIOS area.
    const bios = read(0xe0000, 0x20000);
    const off = Array.from({ length: 0x2000 }, (_, i) => i * 16).find((o) => sig(bios, o, 8) === 'RSD PTR ');
    expect(off).toBe(0xea020 - 0xe0000);
    const rsdp = bios.subarray(off!, off! + 36);
    const xsdtHead = read(u64(rsdp, 24), 36);
    const xsdt = read(u64(rsdp, 24), u32(xsdtHead, 4));
    const tables = new Map<string, Uint8Array>();
    for (let at = 36; at < xsdt.length; at += 8) {
      const addr = u64(xsdt, at);
      tables.set(sig(read(addr, 4)), read(addr, u32(read(addr, 8), 4)));
    }
    const fadt = tables.get('FACP')!;
    tables.set('DSDT', read(u32(fadt, 40), u32(read(u32(fadt, 40), 8), 4)));
    expect([...tables.keys()].sort()).toEqual(['APIC', 'DSDT', 'FACP']);

    const out = new Map<string, { log: string; dsl: string }>();
    for (const [name, bytes] of tables) {
      const file = join(dir, `${name.toLowerCase()}.dat`);
      writeFileSync(file, bytes);
      out.set(name, disassemble(file));
    }
    for (const [name, { log, dsl }] of out) {
      expect(log, name).not.toMatch(/error|warning|incorrect|invalid/i);
      expect(dsl, name).not.toMatch(/Incorrect checksum/);
    }
    const madt = out.get('APIC')!.dsl;
    expect(out.get('APIC')!.log).toContain('Acpi Data Table [APIC] decoded');
    expect(madt).toMatch(/Oem ID : "Xen"/);
    expect(madt).toMatch(/PC-AT Compatibility : 1/);
    const processors = [...madt.matchAll(/Subtable Type : 00 \[Processor Local APIC\][\s\S]*?Processor ID : (\w+)[\s\S]*?Local Apic ID : (\w+)[\s\S]*?Processor Enabled : (\d)/g)].map((m) => [m[1], m[2], m[3]]);
    expect(processors).toEqual([['00', '00', '1'], ['01', '02', '1'], ['02', '04', '1'], ['03', '06', '0']]);
    expect(madt).toMatch(/Subtable Type : 01 \[I\/O APIC\][\s\S]*?I\/O Apic ID : 01[\s\S]*?Address : FEC00000/);
    const facp = out.get('FACP')!.dsl;
    expect(facp).toMatch(/SCI Interrupt : 0009/);
    expect(facp).toMatch(/PM1A Event Block Address : 0000B000/);
    expect(facp).toMatch(/PM Timer Block Address : 0000B008/);
    const dsdt = out.get('DSDT')!.dsl;
    expect(dsdt).toMatch(/DefinitionBlock \("", "DSDT", 2, "Xen", "HVM"/);
    expect(dsdt).toMatch(/Name \(\\_S5, Package \(0x04\)[\s\S]*0x07,\s*0x07,\s*Zero,\s*Zero/);
    expect(dsdt.match(/Processor \(PR0\d, 0x0\d, 0x0000B010, 0x06\)/g)).toHaveLength(4);
    settle(t.host, ts.destroy(domid));
  });

  it('iasl would notice a bad checksum (the check above can fail)', () => {
    const madt = buildMadt({ nrVcpus: 2, online: () => true });
    madt[9] = (madt[9]! + 1) & 0xff;
    const file = join(dir, 'bad.dat');
    writeFileSync(file, madt);
    const { log, dsl } = disassemble(file);
    expect(log).toMatch(/Incorrect checksum in table \[APIC\]/);
    expect(dsl).toMatch(/Incorrect checksum/);
  });
});

/**
 * The ACPI tables hvmloader builds (tools/libacpi/build.c, static_tables.c): RSDP, RSDT, XSDT, FADT,
 * FACS, a small DSDT and the MADT with one Processor Local APIC per vCPU, laid out as one block from
 * ACPI_PHYSICAL_ADDRESS with the RSDP where a BIOS-area scan finds it.
 */
import {
  ACPI_ADR_SPACE, ACPI_CREATOR_ID, ACPI_FADT_FLAG, ACPI_GPE0_BLK_ADDRESS, ACPI_GPE0_BLK_LEN, ACPI_MADT_INTI, ACPI_MADT_LAPIC_ENABLED,
  ACPI_MADT_PCAT_COMPAT, ACPI_MADT_TYPE, ACPI_OEM_ID, ACPI_OEM_TABLE_ID, ACPI_PCI_ISA_IRQ_MASK, ACPI_PHYSICAL_ADDRESS, ACPI_PM1A_CNT_BLK_ADDRESS,
  ACPI_PM1A_CNT_BLK_LEN, ACPI_PM1A_EVT_BLK_ADDRESS, ACPI_PM1A_EVT_BLK_LEN, ACPI_PM_TMR_BLK_ADDRESS, ACPI_PM_TMR_BLK_LEN, ACPI_REVISION,
  ACPI_RSDP_ADDRESS, ACPI_RSDP_SIGNATURE, ACPI_SCI_IRQ, ACPI_SIG, ACPI_SLP_TYP, ACPI_TABLES_END, AcpiFacs, AcpiFadt, AcpiGas, AcpiHeader,
  AcpiMadt, AcpiMadtIoApic, AcpiMadtLapic, AcpiMadtOverride, AcpiRsdp, HVM_IOAPIC_ADDRESS, HVM_IOAPIC_ID, HVM_LAPIC_ADDRESS, HVM_MAX_VCPUS, RCR,
  RCR_IOPORT, hvmLapicId,
} from '../../../../core/public/index.js';

/** What the tables describe. */
export interface AcpiConfig {
  /** hvm_info_table.nr_vcpus: one MADT entry (and one DSDT processor object) each. */
  readonly nrVcpus: number;
  /** hvm_info_table.vcpu_online: the entries marked enabled. */
  readonly online: (vcpu: number) => boolean;
}

/** The built block: its bytes go at `base`; `tables` names where each table landed. */
export interface AcpiTables {
  readonly base: number;
  readonly bytes: Uint8Array;
  readonly rsdp: number;
  readonly tables: Readonly<Record<'FACS' | 'DSDT' | 'FACP' | 'APIC' | 'XSDT' | 'RSDT', number>>;
}

/** FACP's iapc_boot_arch: no VGA (the platform has none). */
const ACPI_FADT_NO_VGA = 1 << 2;
/** hvmloader's PM1 register widths in bits (static_tables.c). */
const PM1_EVT_BITS = 32;
const PM1_CNT_BITS = 16;
const PM_TMR_BITS = 32;
/** C2/C3 latencies above the limits mean "not supported". */
const NO_C2 = 0x0fff;
const NO_C3 = 0x0fff;
/** The DSDT's processor objects' P_BLK (hvmloader's mk_dsdt: 0xb010, 6 bytes). */
const PROCESSOR_PBLK = 0xb010;
const PROCESSOR_PBLK_LEN = 6;

/** The byte that makes `bytes` sum to zero mod 256 when stored at `at` (set_checksum). */
export function setChecksum(bytes: Uint8Array, at: number, start = 0, end = bytes.length): void {
  bytes[at] = 0;
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i]!;
  bytes[at] = (0x100 - (sum & 0xff)) & 0xff;
}

/** Sum of `bytes` mod 256 (0 for a well-formed table). */
export function checksum8(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum += b;
  return sum & 0xff;
}

function ascii(into: Uint8Array, at: number, text: string, width: number): void {
  for (let i = 0; i < width; i++) into[at + i] = i < text.length ? text.charCodeAt(i) : 0;
}

/** A table with hvmloader's header (length and checksum filled by {@link finish}). */
function table(signature: string, revision: number, size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  ascii(bytes, AcpiHeader.signature, signature, 4);
  view.setUint32(AcpiHeader.length, size, true);
  bytes[AcpiHeader.revision] = revision;
  ascii(bytes, AcpiHeader.oemId, ACPI_OEM_ID, 6);
  ascii(bytes, AcpiHeader.oemTableId, ACPI_OEM_TABLE_ID, 8);
  view.setUint32(AcpiHeader.oemRevision, 0, true);
  ascii(bytes, AcpiHeader.creatorId, ACPI_CREATOR_ID, 4);
  view.setUint32(AcpiHeader.creatorRevision, 0, true);
  return { bytes, view };
}

function finish(bytes: Uint8Array): Uint8Array {
  setChecksum(bytes, AcpiHeader.checksum);
  return bytes;
}

function gas(view: DataView, at: number, address: number, bits: number): void {
  view.setUint8(at + AcpiGas.spaceId, ACPI_ADR_SPACE.SYSTEM_IO);
  view.setUint8(at + AcpiGas.bitWidth, bits);
  view.setUint8(at + AcpiGas.bitOffset, 0);
  view.setBigUint64(at + AcpiGas.address, BigInt(address), true);
}

/** The FACS: signature, length, version (static_tables.c). */
export function buildFacs(): Uint8Array {
  const bytes = new Uint8Array(AcpiFacs.size);
  const view = new DataView(bytes.buffer);
  ascii(bytes, AcpiFacs.signature, ACPI_SIG.FACS, 4);
  view.setUint32(AcpiFacs.length, AcpiFacs.size, true);
  bytes[AcpiFacs.version] = ACPI_REVISION.FACS;
  return bytes;
}

/** An AML PkgLength for a package whose contents (after the length) are `n` bytes. */
function pkgLength(n: number): number[] {
  if (n + 1 < 0x40) return [n + 1];
  const total = n + 2;
  if (total >= 0x1000) throw new Error(`acpi: AML package of ${n} bytes is too large for a two-byte PkgLength`);
  return [0x40 | (total & 0x0f), total >> 4];
}

/**
 * A DSDT with what the guest can use without an AML interpreter: `\_S5` (SLP_TYP for soft-off) and,
 * as mk_dsdt writes them, one `Processor (PRxx, id, 0xb010, 6)` object per vCPU in `\_SB`.
 */
export function buildDsdt(nrVcpus: number): Uint8Array {
  const aml: number[] = [];
  const s5 = ACPI_SLP_TYP.S5;
  // Name (\_S5, Package (0x04) { S5, S5, Zero, Zero })
  const s5Body = [0x04, 0x0a, s5, 0x0a, s5, 0x00, 0x00];
  aml.push(0x08, 0x5c, ...Buffer.from('_S5_', 'latin1'), 0x12, ...pkgLength(s5Body.length), ...s5Body);
  const processors: number[] = [];
  for (let id = 0; id < nrVcpus; id++) {
    const name = `PR${id.toString(16).toUpperCase().padStart(2, '0')}`;
    const body = [...Buffer.from(name, 'latin1'), id, ...[0, 8, 16, 24].map((s) => (PROCESSOR_PBLK >>> s) & 0xff), PROCESSOR_PBLK_LEN];
    processors.push(0x5b, 0x83, ...pkgLength(body.length), ...body);
  }
  // Scope (\_SB) { processors }
  const scopeBody = [0x5c, ...Buffer.from('_SB_', 'latin1'), ...processors];
  aml.push(0x10, ...pkgLength(scopeBody.length), ...scopeBody);
  const { bytes } = table(ACPI_SIG.DSDT, ACPI_REVISION.DSDT, AcpiHeader.size + aml.length);
  bytes.set(aml, AcpiHeader.size);
  return finish(bytes);
}

/** The FADT (revision 4) pointing at the FACS and DSDT, with the PM blocks of Xen's platform. */
export function buildFadt(facs: number, dsdt: number): Uint8Array {
  const F = AcpiFadt;
  const { bytes, view } = table(ACPI_SIG.FADT, ACPI_REVISION.FADT, F.size);
  view.setUint32(F.firmwareCtrl, facs, true);
  view.setUint32(F.dsdt, dsdt, true);
  view.setUint16(F.sciInt, ACPI_SCI_IRQ, true);
  view.setUint32(F.pm1aEvtBlk, ACPI_PM1A_EVT_BLK_ADDRESS, true);
  view.setUint32(F.pm1aCntBlk, ACPI_PM1A_CNT_BLK_ADDRESS, true);
  view.setUint32(F.pmTmrBlk, ACPI_PM_TMR_BLK_ADDRESS, true);
  view.setUint32(F.gpe0Blk, ACPI_GPE0_BLK_ADDRESS, true);
  bytes[F.pm1EvtLen] = ACPI_PM1A_EVT_BLK_LEN;
  bytes[F.pm1CntLen] = ACPI_PM1A_CNT_BLK_LEN;
  bytes[F.pmTmrLen] = ACPI_PM_TMR_BLK_LEN;
  bytes[F.gpe0BlkLen] = ACPI_GPE0_BLK_LEN;
  view.setUint16(F.pLvl2Lat, NO_C2, true);
  view.setUint16(F.pLvl3Lat, NO_C3, true);
  view.setUint16(F.iapcBootArch, ACPI_FADT_NO_VGA, true);
  // Xen's FADT also sets TMR_VAL_EXT (a 32-bit PM timer); our acpi-pm model counts 24 bits, so it stays clear.
  const flags = ACPI_FADT_FLAG.PROC_C1 | ACPI_FADT_FLAG.WBINVD | ACPI_FADT_FLAG.FIX_RTC | ACPI_FADT_FLAG.USE_PLATFORM_CLOCK | ACPI_FADT_FLAG.RESET_REG_SUP;
  view.setUint32(F.flags, flags, true);
  gas(view, F.resetReg, RCR_IOPORT, 8);
  bytes[F.resetValue] = RCR.SYS_RST | RCR.RST_CPU;
  view.setBigUint64(F.xFirmwareCtrl, BigInt(facs), true);
  view.setBigUint64(F.xDsdt, BigInt(dsdt), true);
  gas(view, F.xPm1aEvtBlk, ACPI_PM1A_EVT_BLK_ADDRESS, PM1_EVT_BITS);
  gas(view, F.xPm1aCntBlk, ACPI_PM1A_CNT_BLK_ADDRESS, PM1_CNT_BITS);
  gas(view, F.xPmTmrBlk, ACPI_PM_TMR_BLK_ADDRESS, PM_TMR_BITS);
  gas(view, F.xGpe0Blk, ACPI_GPE0_BLK_ADDRESS, ACPI_GPE0_BLK_LEN * 8);
  return finish(bytes);
}

/** The ISA IRQs hvmloader overrides: IRQ0 → GSI 2 (bus default flags), and the PCI-connected ones level/active-low. */
export function madtOverrides(): { source: number; gsi: number; flags: number }[] {
  const out: { source: number; gsi: number; flags: number }[] = [{ source: 0, gsi: 2, flags: ACPI_MADT_INTI.CONFORMS }];
  for (let irq = 1; irq < 16; irq++) {
    if ((ACPI_PCI_ISA_IRQ_MASK & (1 << irq)) !== 0) out.push({ source: irq, gsi: irq, flags: ACPI_MADT_INTI.ACTIVE_LOW | ACPI_MADT_INTI.LEVEL });
  }
  return out;
}

/** construct_madt: the overrides, the IO-APIC, then one Processor Local APIC per vCPU (ACPI id = vCPU, APIC id = LAPIC_ID(vCPU)). */
export function buildMadt(c: AcpiConfig): Uint8Array {
  if (!Number.isInteger(c.nrVcpus) || c.nrVcpus < 1 || c.nrVcpus > HVM_MAX_VCPUS) {
    throw new Error(`hvmloader: cannot describe ${c.nrVcpus} vCPUs in the MADT (1-${HVM_MAX_VCPUS}: APIC ID 2n must fit an xAPIC's byte)`);
  }
  const overrides = madtOverrides();
  const size = AcpiMadt.size + overrides.length * AcpiMadtOverride.size + AcpiMadtIoApic.size + c.nrVcpus * AcpiMadtLapic.size;
  const { bytes, view } = table(ACPI_SIG.MADT, ACPI_REVISION.MADT, size);
  view.setUint32(AcpiMadt.lapicAddress, HVM_LAPIC_ADDRESS, true);
  view.setUint32(AcpiMadt.flags, ACPI_MADT_PCAT_COMPAT, true);
  let at = AcpiMadt.size;
  for (const o of overrides) {
    bytes[at + AcpiMadtOverride.type] = ACPI_MADT_TYPE.INTERRUPT_OVERRIDE;
    bytes[at + AcpiMadtOverride.length] = AcpiMadtOverride.size;
    bytes[at + AcpiMadtOverride.source] = o.source;
    view.setUint32(at + AcpiMadtOverride.gsi, o.gsi, true);
    view.setUint16(at + AcpiMadtOverride.flags, o.flags, true);
    at += AcpiMadtOverride.size;
  }
  bytes[at + AcpiMadtIoApic.type] = ACPI_MADT_TYPE.IO_APIC;
  bytes[at + AcpiMadtIoApic.length] = AcpiMadtIoApic.size;
  bytes[at + AcpiMadtIoApic.ioApicId] = HVM_IOAPIC_ID;
  view.setUint32(at + AcpiMadtIoApic.address, HVM_IOAPIC_ADDRESS, true);
  view.setUint32(at + AcpiMadtIoApic.gsiBase, 0, true);
  at += AcpiMadtIoApic.size;
  for (let vcpu = 0; vcpu < c.nrVcpus; vcpu++) {
    bytes[at + AcpiMadtLapic.type] = ACPI_MADT_TYPE.LOCAL_APIC;
    bytes[at + AcpiMadtLapic.length] = AcpiMadtLapic.size;
    bytes[at + AcpiMadtLapic.processorId] = vcpu;
    bytes[at + AcpiMadtLapic.apicId] = hvmLapicId(vcpu);
    view.setUint32(at + AcpiMadtLapic.flags, c.online(vcpu) ? ACPI_MADT_LAPIC_ENABLED : 0, true);
    at += AcpiMadtLapic.size;
  }
  return finish(bytes);
}

/** An RSDT (32-bit entries) or XSDT (64-bit entries) listing `entries`. */
export function buildSdt(kind: 'RSDT' | 'XSDT', entries: readonly number[]): Uint8Array {
  const width = kind === 'RSDT' ? 4 : 8;
  const { bytes, view } = table(ACPI_SIG[kind], ACPI_REVISION[kind], AcpiHeader.size + entries.length * width);
  entries.forEach((addr, i) => {
    if (width === 4) view.setUint32(AcpiHeader.size + i * 4, addr, true);
    else view.setBigUint64(AcpiHeader.size + i * 8, BigInt(addr), true);
  });
  return finish(bytes);
}

/** The revision-2 RSDP: both checksums. */
export function buildRsdp(rsdt: number, xsdt: number): Uint8Array {
  const R = AcpiRsdp;
  const bytes = new Uint8Array(R.size);
  const view = new DataView(bytes.buffer);
  ascii(bytes, R.signature, ACPI_RSDP_SIGNATURE, 8);
  ascii(bytes, R.oemId, ACPI_OEM_ID, 6);
  bytes[R.revision] = ACPI_REVISION.RSDP;
  view.setUint32(R.rsdtAddress, rsdt, true);
  view.setUint32(R.length, R.size, true);
  view.setBigUint64(R.xsdtAddress, BigInt(xsdt), true);
  setChecksum(bytes, R.checksum, 0, R.v1Size);
  setChecksum(bytes, R.extendedChecksum);
  return bytes;
}

/** acpi_build_tables: every table placed (16-byte aligned, the FACS 64) after the RSDP, pointers filled, checksums set. */
export function buildAcpiTables(c: AcpiConfig): AcpiTables {
  const base = ACPI_PHYSICAL_ADDRESS;
  const pieces: { at: number; bytes: Uint8Array }[] = [];
  let next = ACPI_RSDP_ADDRESS + AcpiRsdp.size;
  const place = (bytes: Uint8Array, align = 16): number => {
    const at = Math.ceil(next / align) * align;
    next = at + bytes.length;
    pieces.push({ at, bytes });
    return at;
  };
  const facs = place(buildFacs(), 64);
  const dsdt = place(buildDsdt(c.nrVcpus));
  const fadt = place(buildFadt(facs, dsdt));
  const madt = place(buildMadt(c));
  const xsdt = place(buildSdt('XSDT', [fadt, madt]));
  const rsdt = place(buildSdt('RSDT', [fadt, madt]));
  pieces.push({ at: ACPI_RSDP_ADDRESS, bytes: buildRsdp(rsdt, xsdt) });
  if (next > ACPI_TABLES_END) throw new Error(`hvmloader: ACPI tables for ${c.nrVcpus} vCPUs end at 0x${next.toString(16)}, past 0x${ACPI_TABLES_END.toString(16)}`);
  const bytes = new Uint8Array(next - base);
  for (const p of pieces) bytes.set(p.bytes, p.at - base);
  return { base, bytes, rsdp: ACPI_RSDP_ADDRESS, tables: { FACS: facs, DSDT: dsdt, FACP: fadt, APIC: madt, XSDT: xsdt, RSDT: rsdt } };
}

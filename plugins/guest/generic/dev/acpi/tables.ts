/**
 * The kernel's ACPI table reader (FreeBSD's AcpiFindRootPointer and AcpiTbParseRootTable with
 * x86/acpica/madt.c's walk, much reduced): finds the RSDP in the BIOS area, checks every checksum,
 * walks the XSDT (or the RSDT) and decodes the MADT and the FADT. No AML is interpreted.
 */
import {
  ACPI_MADT_LAPIC_ENABLED, ACPI_MADT_TYPE, ACPI_RSDP_SCAN, ACPI_RSDP_SIGNATURE, AcpiFadt, AcpiHeader, AcpiMadt, AcpiMadtIoApic, AcpiMadtLapic,
  AcpiMadtOverride, AcpiRsdp,
} from '../../../../../core/public/index.js';

/** Reads guest-physical memory. */
export type PhysRead = (addr: number, length: number) => Uint8Array;

/** A table's identity as the boot log names it. */
export interface AcpiTableId {
  readonly signature: string;
  readonly address: number;
  readonly length: number;
  readonly revision: number;
  readonly oemId: string;
  readonly oemTableId: string;
}

/** A Processor Local APIC entry. */
export interface MadtLapic {
  readonly processorId: number;
  readonly apicId: number;
  readonly enabled: boolean;
}

/** A MADT interrupt source override: ISA IRQ `source` arrives on `gsi`, with MPS INTI `flags`. */
export interface MadtOverride {
  readonly source: number;
  readonly gsi: number;
  readonly flags: number;
}

/** The MADT, decoded. */
export interface Madt {
  readonly id: AcpiTableId;
  readonly lapicAddress: number;
  readonly pcatCompat: boolean;
  readonly lapics: readonly MadtLapic[];
  readonly ioApics: readonly { readonly id: number; readonly address: number; readonly gsiBase: number }[];
  readonly overrides: readonly MadtOverride[];
}

/** The FADT fields the kernel uses. */
export interface Fadt {
  readonly id: AcpiTableId;
  readonly sciInt: number;
  readonly pm1aEvtBlk: number;
  readonly pm1aCntBlk: number;
  readonly pmTmrBlk: number;
  readonly gpe0Blk: number;
  readonly dsdt: number;
}

/** What the kernel found. */
export interface AcpiTablesFound {
  readonly rsdp: { readonly address: number; readonly revision: number; readonly oemId: string };
  /** The root table walked (XSDT when the RSDP is revision 2+, else RSDT). */
  readonly root: AcpiTableId;
  readonly tables: readonly AcpiTableId[];
  readonly madt: Madt | undefined;
  readonly fadt: Fadt | undefined;
}

/** Tables longer than this are not ACPI tables but garbage. */
const MAX_TABLE_LENGTH = 0x10_0000;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function text(bytes: Uint8Array, at: number, width: number): string {
  const raw = bytes.subarray(at, at + width);
  const nul = raw.indexOf(0);
  return Buffer.from(nul < 0 ? raw : raw.subarray(0, nul)).toString('latin1').trimEnd();
}

function sum8(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s += b;
  return s & 0xff;
}

/** AcpiFindRootPointer: the first "RSD PTR " on a 16-byte boundary of 0xE0000–0xFFFFF whose ACPI 1.0 checksum holds. */
export function findRsdp(read: PhysRead): number | undefined {
  const { start, end } = ACPI_RSDP_SCAN;
  const area = read(start, end - start);
  const sig = Buffer.from(ACPI_RSDP_SIGNATURE, 'latin1');
  for (let off = 0; off + AcpiRsdp.size <= area.length; off += 16) {
    if (area[off] !== sig[0] || !sig.every((b, i) => area[off + i] === b)) continue;
    if (sum8(area.subarray(off, off + AcpiRsdp.v1Size)) === 0) return start + off;
  }
  return undefined;
}

/** Reads the whole table at `address`, checking its signature (when `expect`) and checksum. */
export function readTable(read: PhysRead, address: number, expect?: string): { id: AcpiTableId; bytes: Uint8Array } {
  const head = read(address, AcpiHeader.size);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const signature = text(head, AcpiHeader.signature, 4);
  if (expect !== undefined && signature !== expect) throw new Error(`acpi: expected ${expect} at ${hex(address)}, found "${signature}"`);
  const length = view.getUint32(AcpiHeader.length, true);
  if (length < AcpiHeader.size || length > MAX_TABLE_LENGTH) throw new Error(`acpi: ${signature} at ${hex(address)} has length ${length}`);
  const bytes = read(address, length);
  if (sum8(bytes) !== 0) throw new Error(`acpi: ${signature} at ${hex(address)}: bad checksum (sum 0x${sum8(bytes).toString(16)})`);
  const id = { signature, address, length, revision: head[AcpiHeader.revision]!, oemId: text(head, AcpiHeader.oemId, 6), oemTableId: text(head, AcpiHeader.oemTableId, 8) };
  return { id, bytes };
}

/** madt_parse: the local APICs, IO-APICs and interrupt source overrides; unknown entry types are skipped. */
export function parseMadt(id: AcpiTableId, bytes: Uint8Array): Madt {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lapics: MadtLapic[] = [];
  const ioApics: { id: number; address: number; gsiBase: number }[] = [];
  const overrides: MadtOverride[] = [];
  for (let at = AcpiMadt.size; at + 2 <= bytes.length; ) {
    const type = bytes[at]!;
    const length = bytes[at + 1]!;
    if (length < 2 || at + length > bytes.length) throw new Error(`acpi: MADT at ${hex(id.address)}: entry at +${at} (type ${type}) has length ${length}`);
    if (type === ACPI_MADT_TYPE.LOCAL_APIC && length >= AcpiMadtLapic.size) {
      lapics.push({ processorId: bytes[at + AcpiMadtLapic.processorId]!, apicId: bytes[at + AcpiMadtLapic.apicId]!, enabled: (view.getUint32(at + AcpiMadtLapic.flags, true) & ACPI_MADT_LAPIC_ENABLED) !== 0 });
    } else if (type === ACPI_MADT_TYPE.IO_APIC && length >= AcpiMadtIoApic.size) {
      ioApics.push({ id: bytes[at + AcpiMadtIoApic.ioApicId]!, address: view.getUint32(at + AcpiMadtIoApic.address, true), gsiBase: view.getUint32(at + AcpiMadtIoApic.gsiBase, true) });
    } else if (type === ACPI_MADT_TYPE.INTERRUPT_OVERRIDE && length >= AcpiMadtOverride.size) {
      overrides.push({ source: bytes[at + AcpiMadtOverride.source]!, gsi: view.getUint32(at + AcpiMadtOverride.gsi, true), flags: view.getUint16(at + AcpiMadtOverride.flags, true) });
    }
    at += length;
  }
  return { id, lapicAddress: view.getUint32(AcpiMadt.lapicAddress, true), pcatCompat: (view.getUint32(AcpiMadt.flags, true) & 1) !== 0, lapics, ioApics, overrides };
}

/** The FADT's PM blocks, SCI and DSDT (X_DSDT when present). */
export function parseFadt(id: AcpiTableId, bytes: Uint8Array): Fadt {
  const F = AcpiFadt;
  if (bytes.length < F.pm1EvtLen) throw new Error(`acpi: FACP at ${hex(id.address)} is ${bytes.length} bytes, too short for its PM blocks`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const xDsdt = bytes.length >= F.xDsdt + 8 ? Number(view.getBigUint64(F.xDsdt, true)) : 0;
  return {
    id,
    sciInt: view.getUint16(F.sciInt, true),
    pm1aEvtBlk: view.getUint32(F.pm1aEvtBlk, true),
    pm1aCntBlk: view.getUint32(F.pm1aCntBlk, true),
    pmTmrBlk: view.getUint32(F.pmTmrBlk, true),
    gpe0Blk: view.getUint32(F.gpe0Blk, true),
    dsdt: xDsdt !== 0 ? xDsdt : view.getUint32(F.dsdt, true),
  };
}

/**
 * Finds and checks the tables: undefined when no RSDP is in the BIOS area (no ACPI); throws naming the
 * table when one is corrupt. A table that fails its own checks is left out, as ACPICA does, and named in `skipped`.
 */
export function readAcpiTables(read: PhysRead): (AcpiTablesFound & { readonly skipped: readonly string[] }) | undefined {
  const at = findRsdp(read);
  if (at === undefined) return undefined;
  const raw = read(at, AcpiRsdp.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const revision = raw[AcpiRsdp.revision]!;
  const rsdp = { address: at, revision, oemId: text(raw, AcpiRsdp.oemId, 6) };
  let rootAddr = view.getUint32(AcpiRsdp.rsdtAddress, true);
  let width = 4;
  if (revision >= 2) {
    if (sum8(raw) !== 0) throw new Error(`acpi: RSDP at ${hex(at)}: bad extended checksum`);
    const xsdt = Number(view.getBigUint64(AcpiRsdp.xsdtAddress, true));
    if (xsdt !== 0) {
      rootAddr = xsdt;
      width = 8;
    }
  }
  const root = readTable(read, rootAddr, width === 8 ? 'XSDT' : 'RSDT');
  const rootView = new DataView(root.bytes.buffer, root.bytes.byteOffset, root.bytes.byteLength);
  const tables: AcpiTableId[] = [];
  const skipped: string[] = [];
  let madt: Madt | undefined;
  let fadt: Fadt | undefined;
  for (let off = AcpiHeader.size; off + width <= root.bytes.length; off += width) {
    const addr = width === 8 ? Number(rootView.getBigUint64(off, true)) : rootView.getUint32(off, true);
    if (addr === 0) continue;
    try {
      const t = readTable(read, addr);
      tables.push(t.id);
      if (t.id.signature === 'APIC' && madt === undefined) madt = parseMadt(t.id, t.bytes);
      if (t.id.signature === 'FACP' && fadt === undefined) fadt = parseFadt(t.id, t.bytes);
    } catch (error) {
      skipped.push((error as Error).message);
    }
  }
  return { rsdp, root: root.id, tables, madt, fadt, skipped };
}

/** The boot-log lines FreeBSD prints for what it found (`ACPI: RSDP 0x...`, one per table). */
export function describeAcpiTables(found: AcpiTablesFound): string[] {
  const line = (t: AcpiTableId): string => `ACPI: ${t.signature.padEnd(4)} 0x${t.address.toString(16).toUpperCase().padStart(16, '0')} ${t.length.toString(16).toUpperCase().padStart(6, '0')} (v${String(t.revision).padStart(2, '0')} ${t.oemId.padEnd(6)} ${t.oemTableId.padEnd(8)})`;
  return [`ACPI: RSDP ${hex(found.rsdp.address)} (v${String(found.rsdp.revision).padStart(2, '0')} ${found.rsdp.oemId})`, line(found.root), ...found.tables.map(line)];
}

/**
 * The HVM firmware (hvmloader's part that matters here, with a FreeBSD-loader-style hand-off in place
 * of a BIOS): vCPU 0's first program. It reads the builder's hvm_info_table, enumerates and configures
 * PCI through real port-I/O exits, builds the ACPI tables (MADT, FADT, DSDT...) and the E820 map,
 * writes the boot metadata block, then enters the kernel's HVM entry with RDI = the block's physical
 * address and paging off.
 */
import type { Domain, GuestKernel, Logger, VcpuApi, VcpuCoroutine, VcpuProgram } from '../../../../core/api/index.js';
import { HVM_INFO_PADDR, HVM_INFO_SIGNATURE, HvmInfoTable, SPECIALPAGE_BASE, SPECIALPAGE_COUNT } from '../../../../core/public/index.js';
import { HVM_BOOT_METADATA_ADDR, bootMetadata, e820Map, type SmapEntry } from './boot-metadata.js';
import { buildAcpiTables, type AcpiTables } from './acpi-tables.js';
import { pciSetup, type PciSetup } from './pci.js';

/** CR0 at kernel entry: PE|ET, paging off (the state hvmloader leaves a 32-bit loader in). */
export const FIRMWARE_EXIT_CR0 = 0x11;

/** What the firmware read from hvm_info_table. */
export interface HvmInfo {
  readonly nrVcpus: number;
  readonly lowMemPgend: number;
  readonly reservedMemPgstart: number;
  readonly highMemPgend: number;
  /** hvm_info_table.vcpu_online: true for the vCPUs up at boot. */
  readonly vcpuOnline: (vcpu: number) => boolean;
}

/** Reads and checks hvm_info_table (signature, length, checksum); throws naming what is wrong. */
export function readHvmInfo(v: VcpuApi): HvmInfo {
  const T = HvmInfoTable;
  const head = v.memory.read(HVM_INFO_PADDR, T.size);
  const signature = Buffer.from(head.subarray(0, 8)).toString('latin1');
  if (signature !== HVM_INFO_SIGNATURE) throw new Error(`hvmloader: no hvm_info_table at 0x${HVM_INFO_PADDR.toString(16)} (signature "${signature}")`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const length = view.getUint32(T.length, true);
  if (length < T.size || length > 0x800) throw new Error(`hvmloader: hvm_info_table length ${length} is invalid`);
  let sum = 0;
  for (const b of v.memory.read(HVM_INFO_PADDR, length)) sum += b;
  if ((sum & 0xff) !== 0) throw new Error('hvmloader: bad hvm_info_table checksum');
  return {
    nrVcpus: view.getUint32(T.nrVcpus, true),
    lowMemPgend: view.getUint32(T.lowMemPgend, true),
    reservedMemPgstart: view.getUint32(T.reservedMemPgstart, true),
    highMemPgend: view.getUint32(T.highMemPgend, true),
    vcpuOnline: (vcpu) => vcpu >= 0 && T.vcpuOnline + (vcpu >> 3) < T.size && (head[T.vcpuOnline + (vcpu >> 3)]! & (1 << (vcpu & 7))) !== 0,
  };
}

/** What the firmware did, for logs and tests. */
export interface FirmwareReport {
  readonly info: HvmInfo;
  readonly pci: PciSetup;
  readonly e820: readonly SmapEntry[];
  readonly acpi: AcpiTables;
}

export interface FirmwareOptions {
  readonly domain: Domain;
  readonly kernel: GuestKernel;
  /** The command line the toolstack gave (as QEMU's fw_cfg passes `-append` to a direct kernel boot). */
  readonly cmdline: string;
  readonly log: Logger;
  /** Told what the firmware did before it enters the kernel. */
  onReport?(report: FirmwareReport): void;
}

/** The firmware as vCPU 0's program. */
export function hvmFirmware(o: FirmwareOptions): VcpuProgram {
  return function* firmware(v: VcpuApi): VcpuCoroutine {
    const info = readHvmInfo(v);
    const pci = yield* pciSetup(v);
    const acpi = buildAcpiTables({ nrVcpus: info.nrVcpus, online: info.vcpuOnline });
    v.memory.write(acpi.base, acpi.bytes);
    const e820 = e820Map(info.lowMemPgend, info.reservedMemPgstart, SPECIALPAGE_BASE + SPECIALPAGE_COUNT, info.highMemPgend, { base: acpi.base, length: acpi.bytes.length });
    v.memory.write(HVM_BOOT_METADATA_ADDR, bootMetadata(e820, o.cmdline));
    const name = o.domain.name;
    for (const bar of pci.bars) o.log.debug(`${name}: hvmloader: 00:${bar.device.toString(16).padStart(2, '0')}.${bar.fn} BAR${bar.index} ${bar.kind} 0x${bar.address.toString(16)} (${bar.size} bytes)`);
    for (const bar of pci.unplaced) o.log.warn(`${name}: hvmloader: 00:${bar.device.toString(16).padStart(2, '0')}.${bar.fn} BAR${bar.index}: no room for ${bar.size} bytes of ${bar.kind}: left disabled`);
    o.log.debug(`${name}: hvmloader: ACPI tables at 0x${acpi.base.toString(16)} (${acpi.bytes.length} bytes, RSDP 0x${acpi.rsdp.toString(16)}, MADT with ${info.nrVcpus} processors)`);
    o.log.info(`${name}: hvmloader: ${pci.functions.length} PCI functions, ${pci.bars.length} BARs, ${e820.length} E820 entries; entering the kernel`);
    o.onReport?.({ info, pci, e820, acpi });
    const r = v.regs;
    r.rdi = HVM_BOOT_METADATA_ADDR;
    r.cr0 = FIRMWARE_EXIT_CR0;
    r.cr3 = 0;
    r.cr4 = 0;
    yield* o.kernel.entry(o.domain, 'hvm')(v);
  };
}

/**
 * The firmware's hand-off block (layout in core/public/hvm-boot.ts): the E820 map hvmloader would build,
 * and the bytes of the block.
 */
import { BiosSmap, E820, HVM_BOOT_METADATA_MAGIC, HVM_BOOT_METADATA_MAX, HVM_BOOT_METADATA_VERSION, HvmBootMetadata, MAX_GUEST_CMDLINE } from '../../../../core/public/index.js';

export { HVM_BOOT_METADATA_ADDR } from '../../../../core/public/index.js';

/** One memory-map entry. */
export interface SmapEntry {
  readonly base: number;
  readonly length: number;
  readonly type: number;
}

/** Where the firmware's own data lives: the page holding this block and the hvm_info_table. */
const FIRMWARE_PAGE = { base: 0x9f000, length: 0x1000 };
/** The BIOS region at the top of the first megabyte. */
const BIOS_REGION = { base: 0xf0000, length: 0x10000 };
const ONE_MIB = 0x10_0000;
const FOUR_GIB = 2 ** 32;

/**
 * The E820 map from hvm_info_table's memory fields (hvmloader's build_e820_table): RAM below the
 * firmware page, the firmware page and BIOS region reserved, RAM from 1 MiB to low_mem_pgend, the
 * reserved range from reserved_mem_pgstart to the end of the special pages, RAM above 4 GiB. `acpi`:
 * the pages holding the ACPI tables, typed ACPI (reclaimable once the OS has read them).
 */
export function e820Map(lowMemPgend: number, reservedMemPgstart: number, specialEndPfn: number, highMemPgend: number, acpi?: { base: number; length: number }): SmapEntry[] {
  const map: SmapEntry[] = [
    { base: 0, length: FIRMWARE_PAGE.base, type: E820.RAM },
    { base: FIRMWARE_PAGE.base, length: FIRMWARE_PAGE.length, type: E820.RESERVED },
    ...(acpi !== undefined && acpi.length > 0 ? [{ base: acpi.base, length: Math.ceil(acpi.length / 0x1000) * 0x1000, type: E820.ACPI }] : []),
    { base: BIOS_REGION.base, length: BIOS_REGION.length, type: E820.RESERVED },
  ];
  const lowEnd = lowMemPgend * 0x1000;
  if (lowEnd > ONE_MIB) map.push({ base: ONE_MIB, length: lowEnd - ONE_MIB, type: E820.RAM });
  if (reservedMemPgstart > 0 && specialEndPfn > reservedMemPgstart) map.push({ base: reservedMemPgstart * 0x1000, length: (specialEndPfn - reservedMemPgstart) * 0x1000, type: E820.RESERVED });
  if (highMemPgend * 0x1000 > FOUR_GIB) map.push({ base: FOUR_GIB, length: highMemPgend * 0x1000 - FOUR_GIB, type: E820.RAM });
  return map;
}

/** The block's bytes. The command line is cut to fit (and at MAX_GUEST_CMDLINE − 1 bytes). */
export function bootMetadata(smap: readonly SmapEntry[], cmdline: string): Uint8Array {
  const M = HvmBootMetadata;
  const smapBytes = smap.length * BiosSmap.size;
  const room = HVM_BOOT_METADATA_MAX - M.size - smapBytes;
  if (room < 0) throw new Error(`hvmloader: ${smap.length} memory-map entries do not fit the boot metadata block`);
  const line = Buffer.from(cmdline, 'utf8').subarray(0, Math.min(room, MAX_GUEST_CMDLINE - 1));
  const bytes = new Uint8Array(M.size + smapBytes + line.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(M.magic, HVM_BOOT_METADATA_MAGIC, true);
  view.setUint32(M.version, HVM_BOOT_METADATA_VERSION, true);
  view.setUint32(M.smapOffset, M.size, true);
  view.setUint32(M.smapEntries, smap.length, true);
  view.setUint32(M.cmdlineOffset, M.size + smapBytes, true);
  view.setUint32(M.cmdlineLength, line.length, true);
  smap.forEach((e, i) => {
    const at = M.size + i * BiosSmap.size;
    view.setBigUint64(at + BiosSmap.base, BigInt(e.base), true);
    view.setBigUint64(at + BiosSmap.length, BigInt(e.length), true);
    view.setUint32(at + BiosSmap.type, e.type, true);
  });
  bytes.set(line, M.size + smapBytes);
  return bytes;
}

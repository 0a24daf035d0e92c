/**
 * The HVM firmware's hand-off to the kernel (xenoserver's own, FreeBSD-loader style, in place of a real
 * BIOS's INT 15h E820 and loader metadata): one block at physical {@link HVM_BOOT_METADATA_ADDR} whose
 * address is in RDI at kernel entry, paging off. The firmware (plugins/guest-modes/hvm) writes it; the
 * reference kernel's native boot path reads it.
 *
 * `struct hvm_boot_metadata` (24 bytes, little-endian): magic u32 @0 = "XHBM", version u32 @4 = 1,
 * smap_offset u32 @8 and smap_entries u32 @12 (offset from the block's start), cmdline_offset u32 @16,
 * cmdline_length u32 @20 (bytes, no NUL). The SMAP entries are FreeBSD's MODINFOMD_SMAP `struct
 * bios_smap` (20 bytes, packed): base u64 @0, length u64 @8, type u32 @16 (E820 types).
 */

export const HVM_BOOT_METADATA_ADDR = 0x9f000;
/** The block may use the page up to the hvm_info_table at 0x9F800. */
export const HVM_BOOT_METADATA_MAX = 0x800;
/** "XHBM" little-endian. */
export const HVM_BOOT_METADATA_MAGIC = 0x4d42_4858;
export const HVM_BOOT_METADATA_VERSION = 1;
export const HvmBootMetadata = { size: 24, magic: 0, version: 4, smapOffset: 8, smapEntries: 12, cmdlineOffset: 16, cmdlineLength: 20 } as const;
/** `struct bios_smap`. */
export const BiosSmap = { size: 20, base: 0, length: 8, type: 16 } as const;
/** SMAP (ACPI address range) types. */
export const SMAP_TYPE = { MEMORY: 1, RESERVED: 2, ACPI: 3, NVS: 4, UNUSABLE: 5 } as const;

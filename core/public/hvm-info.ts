/**
 * `struct hvm_info_table` (xen/include/public/hvm/hvm_info_table.h): what the HVM domain builder tells
 * the firmware (hvmloader) about the guest — vCPUs and where RAM lies around the holes.
 */

/** Guest-physical address of the table: HVM_INFO_PFN 0x9F, offset 0x800. */
export const HVM_INFO_PFN = 0x9f;
export const HVM_INFO_OFFSET = 0x800;
export const HVM_INFO_PADDR = HVM_INFO_PFN * 0x1000 + HVM_INFO_OFFSET;
/** `signature`: 8 bytes, no NUL. */
export const HVM_INFO_SIGNATURE = 'HVM INFO';
export const HVM_MAX_VCPUS = 128;

/**
 * Field offsets: signature char[8] @0, length u32 @8, checksum u8 @12 (all `length` bytes sum to 0
 * mod 256), apic_mode u8 @13, nr_vcpus u32 @16, low_mem_pgend u32 @20, reserved_mem_pgstart u32 @24,
 * high_mem_pgend u32 @28, vcpu_online u8[16] @32. A zero *_pgend means the range does not exist.
 */
export const HvmInfoTable = {
  size: 48,
  signature: 0,
  length: 8,
  checksum: 12,
  apicMode: 13,
  nrVcpus: 16,
  lowMemPgend: 20,
  reservedMemPgstart: 24,
  highMemPgend: 28,
  vcpuOnline: 32,
} as const;

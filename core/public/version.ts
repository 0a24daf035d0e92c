/** xen_version (hypercall 17) sub-ops and XENFEAT feature bits (xen/include/public/version.h, features.h). */

/** `XENVER_*`. */
export const XENVER = {
  version: 0,
  extraversion: 1,
  compile_info: 2,
  capabilities: 3,
  changeset: 4,
  platform_parameters: 5,
  get_features: 6,
  pagesize: 7,
  guest_handle: 8,
  commandline: 9,
  build_id: 10,
} as const;

/** Sizes of the fixed-size XENVER payloads: extraversion 16, compile_info 144 (64+16+32+32), capabilities 1024, changeset 64, commandline 1024. */
export const XENVER_SIZE = { extraversion: 16, compileInfo: 144, capabilities: 1024, changeset: 64, platformParameters: 8, getFeatures: 8, commandline: 1024 } as const;

/** `XENFEAT_*` bit numbers (submap 0). */
export const XENFEAT = {
  writable_page_tables: 0,
  writable_descriptor_tables: 1,
  auto_translated_physmap: 2,
  supervisor_mode_kernel: 3,
  pae_pgdir_above_4gb: 4,
  mmu_pt_update_preserve_ad: 5,
  highmem_assist: 6,
  gnttab_map_avail_bits: 7,
  hvm_callback_vector: 8,
  hvm_safe_pvclock: 9,
  hvm_pirqs: 10,
  dom0: 11,
  grant_map_identity: 12,
  memory_op_vnode_supported: 13,
  arm_smccc_supported: 14,
  linux_rsdp_unrestricted: 15,
  not_direct_mapped: 16,
  direct_mapped: 17,
} as const;

/** memory_op (hypercall 12): sub-ops, map spaces, flags and struct layouts (xen/include/public/memory.h, Xen 4.17, x86-64). */

/** `XENMEM_*` sub-ops (arg 0, low 6 bits; the rest is the continuation's start extent). */
export const XENMEM = {
  increase_reservation: 0,
  decrease_reservation: 1,
  maximum_ram_page: 2,
  current_reservation: 3,
  maximum_reservation: 4,
  machphys_mfn_list: 5,
  populate_physmap: 6,
  add_to_physmap: 7,
  memory_map: 9,
  machine_memory_map: 10,
  exchange: 11,
  machphys_mapping: 12,
  set_memory_map: 13,
  maximum_gpfn: 14,
  remove_from_physmap: 15,
  set_pod_target: 16,
  get_pod_target: 17,
  add_to_physmap_batch: 23,
  claim_pages: 24,
  acquire_resource: 28,
} as const;

/** `cmd & MEMOP_CMD_MASK` is the sub-op; `cmd >> MEMOP_EXTENT_SHIFT` the extent a continuation resumes at. */
export const MEMOP_EXTENT_SHIFT = 6;
export const MEMOP_CMD_MASK = (1 << MEMOP_EXTENT_SHIFT) - 1;

/** `XENMEMF_*` bits of `xen_memory_reservation.mem_flags`. */
export const XENMEMF = {
  /** Bits 7:0: the highest address bit the allocation may use (0 = no limit). */
  address_bits_mask: 0xff,
  /** Bits 15:8: NUMA node + 1. */
  node_shift: 8,
  populate_on_demand: 1 << 16,
  exact_node_request: 1 << 17,
  vnode: 1 << 18,
} as const;

/** `XENMAPSPACE_*`: what `xen_add_to_physmap.idx` indexes. */
export const XENMAPSPACE = {
  shared_info: 0,
  grant_table: 1,
  gmfn: 2,
  gmfn_range: 3,
  gmfn_foreign: 4,
  dev_mmio: 5,
} as const;
/** Set in `idx` for XENMAPSPACE_grant_table: a status frame (grant v2) rather than a shared frame. */
export const XENMAPIDX_grant_table_status = 0x80000000;

/** `struct xen_memory_reservation` (32 bytes). */
export const XenMemoryReservation = {
  size: 32,
  /** IN/OUT guest handle → xen_pfn_t[nr_extents] (u64 each): GFNs in, MFNs out (PV). */
  extentStart: 0,
  /** IN xen_ulong_t (u64). */
  nrExtents: 8,
  /** IN u32: 2^order pages per extent. */
  extentOrder: 16,
  /** IN u32: XENMEMF_*. */
  memFlags: 20,
  /** IN domid_t (u16): DOMID_SELF for guests. */
  domid: 24,
} as const;

/** `struct xen_memory_domain` (2 bytes): domid u16 @0 — the argument of current/maximum_reservation and maximum_gpfn. */
export const XenMemoryDomain = { size: 2, domid: 0 } as const;

/** `struct xen_add_to_physmap` (24 bytes). */
export const XenAddToPhysmap = {
  size: 24,
  /** IN domid_t. */
  domid: 0,
  /** IN u16, the `size` field: pages, for XENMAPSPACE_gmfn_range only. */
  rangeSize: 2,
  /** IN u32: XENMAPSPACE_*. */
  space: 4,
  /** IN xen_ulong_t: index into the space. */
  idx: 8,
  /** IN xen_pfn_t: where the page appears. */
  gpfn: 16,
} as const;

/** `struct xen_remove_from_physmap` (16 bytes): domid u16 @0, gpfn u64 @8. */
export const XenRemoveFromPhysmap = { size: 16, domid: 0, gpfn: 8 } as const;

/** `struct xen_memory_map` (16 bytes). */
export const XenMemoryMap = {
  size: 16,
  /** IN: entries the buffer holds; OUT: entries stored. u32. */
  nrEntries: 0,
  /** IN guest handle → e820 entries. */
  buffer: 8,
} as const;

/** `struct xen_foreign_memory_map` (24 bytes): domid u16 @0, map (xen_memory_map) @8. */
export const XenForeignMemoryMap = { size: 24, domid: 0, map: 8 } as const;

/** One BIOS E820 entry as Xen stores it (`struct e820entry`, packed, 20 bytes). */
export const E820Entry = {
  size: 20,
  /** u64. */
  addr: 0,
  /** u64, the `size` field (bytes). */
  length: 8,
  /** u32: E820_*. */
  type: 16,
} as const;
/** E820 entry types. */
export const E820 = { RAM: 1, RESERVED: 2, ACPI: 3, NVS: 4, UNUSABLE: 5 } as const;
/** The most entries XENMEM_set_memory_map accepts (Xen's E820MAX). */
export const E820MAX = 1024;

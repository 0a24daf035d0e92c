/** Grant tables v1: GNTTABOP numbers, flags, status codes and struct layouts (xen/include/public/grant_table.h, Xen 4.17, x86_64). */

/** `GNTTABOP_*`: argument 0 of HYPERVISOR_grant_table_op (hypercall 20). */
export const GNTTABOP = {
  map_grant_ref: 0,
  unmap_grant_ref: 1,
  setup_table: 2,
  dump_table: 3,
  transfer: 4,
  copy: 5,
  query_size: 6,
  unmap_and_replace: 7,
  set_version: 8,
  get_status_frames: 9,
  get_version: 10,
  swap_grant_ref: 11,
  cache_flush: 12,
} as const;

/** `GNTST_*`: the per-op status written into each op struct (all errors are negative). */
export const GNTST = {
  okay: 0,
  general_error: -1,
  bad_domain: -2,
  bad_gntref: -3,
  bad_handle: -4,
  bad_virt_addr: -5,
  bad_dev_addr: -6,
  no_device_space: -7,
  permission_denied: -8,
  bad_page: -9,
  bad_copy_arg: -10,
  address_too_big: -11,
  eagain: -12,
  no_space: -13,
} as const;

/** Xen's `GNTTABOP_error_msgs`, indexed by −status. */
export const GNTST_MESSAGES: readonly string[] = [
  'okay',
  'undefined error',
  'unrecognised domain id',
  'invalid grant reference',
  'invalid mapping handle',
  'invalid virtual address',
  'invalid device address',
  'no spare translation slot in the I/O MMU',
  'permission denied',
  'bad page',
  'copy arguments cross page boundary',
  'page address size too large',
  'operation not done; try again',
  'out of space',
];

/** `GTF_*`: bits of `grant_entry_v1.flags`. Type bits and `readonly` are the granter's; `reading`/`writing` are Xen's. */
export const GTF = {
  invalid: 0,
  permit_access: 1,
  accept_transfer: 2,
  transitive: 3,
  type_mask: 3,
  readonly: 1 << 2,
  reading: 1 << 3,
  writing: 1 << 4,
  PWT: 1 << 5,
  PCD: 1 << 6,
  PAT: 1 << 7,
  sub_page: 1 << 8,
  transfer_committed: 1 << 2,
  transfer_completed: 1 << 3,
} as const;

/** `GNTMAP_*`: bits of `gnttab_map_grant_ref.flags`. Bits 16 and up are guest-available PTE bits. */
export const GNTMAP = {
  device_map: 1 << 0,
  host_map: 1 << 1,
  readonly: 1 << 2,
  application_map: 1 << 3,
  contains_pte: 1 << 4,
} as const;

/** `GNTCOPY_*`: bits of `gnttab_copy.flags`: which side names a grant reference (otherwise a gmfn of the caller). */
export const GNTCOPY = {
  source_gref: 1 << 0,
  dest_gref: 1 << 1,
} as const;

/** Entries 0..7 are reserved for the toolstack; guests allocate from 8. */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
/** Entry 0: the console ring page, granted to the console backend. */
export const GNTTAB_RESERVED_CONSOLE = 0;
/** Entry 1: the xenstore ring page, granted to xenstored. */
export const GNTTAB_RESERVED_XENSTORE = 1;

/** `struct grant_entry_v1` (8 bytes; 512 per 4 KiB frame). */
export const GrantEntryV1 = {
  size: 8,
  /** u16 GTF_* (IN from the granter; Xen sets reading/writing). */
  flags: 0,
  /** u16: the grantee. */
  domid: 2,
  /** u32: the frame granted (a GFN of an auto-translated granter, an MFN of a PV one). */
  frame: 4,
} as const;
/** v1 entries in one grant-table frame. */
export const GRANT_ENTRIES_PER_FRAME_V1 = 4096 / GrantEntryV1.size;

/** Xen's default `gnttab_max_frames` (xl `max_grant_frames`). */
export const GNTTAB_DEFAULT_MAX_FRAMES = 64;
/** Frames a grant table starts with (Xen's INITIAL_NR_GRANT_FRAMES on x86). */
export const GNTTAB_INITIAL_FRAMES = 1;
/** Xen's default `gnttab_max_maptrack_frames` (xl `max_maptrack_frames`). */
export const GNTTAB_DEFAULT_MAX_MAPTRACK_FRAMES = 1024;
/** Maptrack entries per maptrack frame (4096 / sizeof(struct grant_mapping) = 16). */
export const MAPTRACK_ENTRIES_PER_FRAME = 256;

/**
 * `XENMAPIDX_grant_table_status` (memory.h): set in `xen_add_to_physmap.idx` with XENMAPSPACE_grant_table
 * to ask for a v2 status frame instead of a shared frame.
 */
export const GNTTAB_PHYSMAP_IDX_STATUS = 0x80000000;

/** `struct gnttab_map_grant_ref` (32 bytes). */
export const GnttabMapGrantRef = {
  size: 32,
  /** IN u64: guest-physical address (auto-translated), virtual address, or PTE machine address (GNTMAP_contains_pte). */
  hostAddr: 0,
  /** IN u32 GNTMAP_*. */
  flags: 8,
  /** IN u32 grant_ref_t. */
  ref: 12,
  /** IN u16: the granting domain. */
  dom: 16,
  /** OUT i16 GNTST_*. */
  status: 18,
  /** OUT u32 grant_handle_t. */
  handle: 20,
  /** OUT u64: the frame's bus address (GNTMAP_device_map). */
  devBusAddr: 24,
} as const;

/** `struct gnttab_unmap_grant_ref` (24 bytes). */
export const GnttabUnmapGrantRef = {
  size: 24,
  /** IN u64: as given to map (0: leave the host mapping). */
  hostAddr: 0,
  /** IN u64: as returned by map (0: leave the device mapping). */
  devBusAddr: 8,
  /** IN u32 grant_handle_t. */
  handle: 16,
  /** OUT i16 GNTST_*. */
  status: 20,
} as const;

/** `struct gnttab_setup_table` (24 bytes). */
export const GnttabSetupTable = {
  size: 24,
  /** IN u16 (DOMID_SELF or, for privileged callers, another domain). */
  dom: 0,
  /** IN u32: frames wanted (the table grows to this). */
  nrFrames: 4,
  /** OUT i16 GNTST_*. */
  status: 8,
  /** IN guest handle (u64) → xen_pfn_t[nr_frames] OUT: MFNs for PV callers, GFNs for auto-translated ones. */
  frameList: 16,
} as const;

/** `struct gnttab_copy` (40 bytes): two `gnttab_copy_ptr`s, then len/flags/status. */
export const GnttabCopy = {
  size: 40,
  /** IN source.u: u32 ref or u64 gmfn. */
  sourceU: 0,
  /** IN u16 source.domid. */
  sourceDomid: 8,
  /** IN u16 source.offset. */
  sourceOffset: 10,
  /** IN dest.u. */
  destU: 16,
  destDomid: 24,
  destOffset: 26,
  /** IN u16 bytes to copy. */
  len: 32,
  /** IN u16 GNTCOPY_*. */
  flags: 34,
  /** OUT i16 GNTST_*. */
  status: 36,
} as const;

/** `struct gnttab_query_size` (16 bytes). */
export const GnttabQuerySize = {
  size: 16,
  /** IN u16. */
  dom: 0,
  /** OUT u32. */
  nrFrames: 4,
  /** OUT u32. */
  maxNrFrames: 8,
  /** OUT i16 GNTST_*. */
  status: 12,
} as const;

/**
 * Boot interfaces (xen/include/public/xen.h `start_info`, arch-x86/hvm/start_info.h `hvm_start_info`)
 * and the layout libxc gives HVM/PVH special pages (xen-facts §11).
 */

/** `start_info.magic` of a 64-bit PV guest, NUL-padded to 32 bytes. */
export const PV_START_INFO_MAGIC = 'xen-3.0-x86_64';
/** sizeof(start_info_t) on x86_64. */
export const PV_START_INFO_SIZE = 1168;
/** Field offsets of `start_info_t` (x86_64). */
export const PvStartInfo = {
  magic: 0,
  nrPages: 32,
  sharedInfo: 40,
  flags: 48,
  storeMfn: 56,
  storeEvtchn: 64,
  consoleMfn: 72,
  consoleEvtchn: 80,
  ptBase: 88,
  nrPtFrames: 96,
  mfnList: 104,
  modStart: 112,
  modLen: 120,
  cmdLine: 128,
  firstP2mPfn: 1152,
  nrP2mFrames: 1160,
} as const;
/** MAX_GUEST_CMDLINE. */
export const MAX_GUEST_CMDLINE = 1024;
/** `SIF_*` flags. */
export const SIF = { privileged: 1 << 0, initdomain: 1 << 1, multibootMod: 1 << 2, modStartPfn: 1 << 3, virtP2m4tools: 1 << 4 } as const;

/** `hvm_start_info.magic`: "xEn3" with bit 7 of 'E' set. */
export const HVM_START_MAGIC = 0x336ec578;
/** Field offsets of `hvm_start_info` (56 bytes, version 1). */
export const HvmStartInfo = {
  magic: 0,
  version: 4,
  flags: 8,
  nrModules: 12,
  modlistPaddr: 16,
  cmdlinePaddr: 24,
  rsdpPaddr: 32,
  memmapPaddr: 40,
  memmapEntries: 48,
  reserved: 52,
} as const;
export const HVM_START_INFO_SIZE = 56;
/** `hvm_memmap_table_entry`: addr u64 @0, size u64 @8, type u32 @16, reserved u32 @20. */
export const HVM_MEMMAP_ENTRY_SIZE = 24;
/** Memory map entry types (E820 numbering). */
export const MEMMAP_TYPE = { ram: 1, reserved: 2, acpi: 3, nvs: 4, unusable: 5, disabled: 6, pmem: 7 } as const;

/** libxc's HVM/PVH special pages: 8 frames ending at 0xff000 (pfn = SPECIALPAGE_BASE + index). */
export const SPECIALPAGE_BASE = 0xfeff8;
export const SPECIALPAGE = { paging: 0, access: 1, sharing: 2, bufioreq: 3, xenstore: 4, ioreq: 5, identPt: 6, console: 7 } as const;
export const SPECIALPAGE_COUNT = 8;

/** `struct xencons_interface` (io/console.h): in[1024] @0, out[2048] @1024, then the four u32 indexes. */
export const XenconsInterface = { in: 0, out: 1024, inCons: 3072, inProd: 3076, outCons: 3080, outProd: 3084 } as const;
export const XENCONS_IN_SIZE = 1024;
export const XENCONS_OUT_SIZE = 2048;

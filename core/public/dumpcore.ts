/**
 * The xen dump-core file (Xen's docs/misc/dump-core-format.txt, tools/libs/guest/xg_core.h): an ELF64
 * ET_CORE file with no program headers and these sections: `.note.Xen`, `.xen_prstatus` (one
 * vcpu_guest_context per vCPU), `.xen_shared_info`, `.xen_p2m` (PV: {pfn, gmfn} pairs) or `.xen_pfn`
 * (translated guests: pfns), `.xen_pages` (the pages, in the same order), `.shstrtab`.
 */

/** Note types in `.note.Xen` (name "Xen"; xen/include/public/elfnote.h). */
export const XEN_ELFNOTE_DUMPCORE = { none: 0x2000000, header: 0x2000001, xenVersion: 0x2000002, formatVersion: 0x2000003 } as const;
/** `xch_magic` of the header note: PV, and fully virtualized (translated) guests. */
export const XC_CORE_MAGIC = 0xf00febed;
export const XC_CORE_MAGIC_HVM = 0xf00febee;
/** Format version (major << 32 | minor): (0, 1). */
export const XEN_DUMPCORE_FORMAT_VERSION = 1n;
/** The note name, NUL-terminated: 4 bytes, so every descriptor stays 8-byte aligned after the 16-byte note header. */
export const XEN_DUMPCORE_ELFNOTE_NAME = 'Xen';

/** `struct xen_dumpcore_elfnote_header_desc` (32 bytes): magic, nr_vcpus, nr_pages, page_size, all u64. */
export const XenDumpcoreHeader = { size: 32, magic: 0, nrVcpus: 8, nrPages: 16, pageSize: 24 } as const;
/**
 * `struct xen_dumpcore_elfnote_xen_version_desc` (1280 bytes): major u64 @0, minor u64 @8,
 * extra_version char[16] @16, compile_info (xen_compile_info_t, 144) @32, capabilities char[1024] @176,
 * changeset char[64] @1200, platform_parameters (virt_start u64) @1264, pagesize u64 @1272.
 */
export const XenDumpcoreXenVersion = {
  size: 1280,
  major: 0,
  minor: 8,
  extraVersion: 16,
  extraVersionSize: 16,
  compileInfo: 32,
  capabilities: 176,
  capabilitiesSize: 1024,
  changeset: 1200,
  changesetSize: 64,
  virtStart: 1264,
  pageSize: 1272,
} as const;
/** `struct xen_dumpcore_p2m` (16 bytes): pfn u64, gmfn u64. */
export const XenDumpcoreP2m = { size: 16, pfn: 0, gmfn: 8 } as const;

/** Section names. */
export const XEN_DUMPCORE_SEC = {
  note: '.note.Xen',
  prstatus: '.xen_prstatus',
  sharedInfo: '.xen_shared_info',
  p2m: '.xen_p2m',
  pfn: '.xen_pfn',
  pages: '.xen_pages',
} as const;

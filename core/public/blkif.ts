/** The block device interface (xen/include/public/io/blkif.h, Xen 4.17, x86_64 ABI). */

/** `BLKIF_OP_*`. */
export const BLKIF_OP = {
  read: 0,
  write: 1,
  /** Needs `feature-barrier`. */
  writeBarrier: 2,
  /** Needs `feature-flush-cache`; may carry no segments. */
  flushDiskcache: 3,
  reserved1: 4,
  /** Needs `feature-discard`; the request is a {@link BlkifRequestDiscard}. */
  discard: 5,
  /** Needs `feature-max-indirect-segments`; the request is a {@link BlkifRequestIndirect}. */
  indirect: 6,
} as const;

/** `BLKIF_RSP_*`: a response's i16 status. */
export const BLKIF_RSP = {
  okay: 0,
  error: -1,
  eopnotsupp: -2,
} as const;

/** Segments a direct request carries. */
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
/** Indirect pages one indirect request may name. */
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
/** `blkif_request_segment`s per indirect page. */
export const BLKIF_SEGS_PER_INDIRECT_FRAME = 4096 / 8;
/** `BLKIF_DISCARD_SECURE`: bit 0 of a discard request's flag. */
export const BLKIF_DISCARD_SECURE = 1;
/** Sectors are always 512-byte units on the ring (sector_number, first_sect, last_sect, `sectors`). */
export const BLKIF_SECTOR_SIZE = 512;

/** The `info` key's VDISK_* bits. */
export const VDISK = {
  cdrom: 0x1,
  removable: 0x2,
  readonly: 0x4,
} as const;

/** `struct blkif_request_segment` (8 bytes). */
export const BlkifSegment = {
  size: 8,
  /** u32 grant of the 4 KiB data frame. */
  gref: 0,
  /** u8 first sector in the frame (0..7, inclusive). */
  firstSect: 4,
  /** u8 last sector in the frame (inclusive). */
  lastSect: 5,
} as const;

/** `struct blkif_request` (112 bytes). */
export const BlkifRequest = {
  size: 112,
  /** u8 BLKIF_OP_*. */
  operation: 0,
  /** u8 segments used. */
  nrSegments: 1,
  /** u16 the vbd (`virtual-device`). */
  handle: 2,
  /** u64 echoed in the response. */
  id: 8,
  /** u64 start sector (512-byte units). */
  sectorNumber: 16,
  /** `blkif_request_segment seg[11]`. */
  seg: 24,
} as const;

/** `struct blkif_request_discard` (32 bytes, in a request slot). */
export const BlkifRequestDiscard = {
  size: 32,
  operation: 0,
  /** u8 BLKIF_DISCARD_SECURE. */
  flag: 1,
  handle: 2,
  id: 8,
  sectorNumber: 16,
  /** u64. */
  nrSectors: 24,
} as const;

/** `struct blkif_request_indirect` (64 bytes, in a request slot). */
export const BlkifRequestIndirect = {
  size: 64,
  /** u8 = BLKIF_OP_indirect. */
  operation: 0,
  /** u8 BLKIF_OP_read / BLKIF_OP_write. */
  indirectOp: 1,
  /** u16 segments, in the indirect pages. */
  nrSegments: 2,
  id: 8,
  sectorNumber: 16,
  /** u16. */
  handle: 24,
  /** u32 indirect_grefs[8]: pages of `blkif_request_segment`s. */
  indirectGrefs: 28,
} as const;

/** `struct blkif_response` (16 bytes). */
export const BlkifResponse = {
  size: 16,
  /** u64 the request's id. */
  id: 0,
  /** u8 the request's operation. */
  operation: 8,
  /** i16 BLKIF_RSP_*. */
  status: 10,
} as const;

/** Slots of a one-page blkif ring (entry 112 bytes). */
export const BLKIF_RING_SIZE = 32;

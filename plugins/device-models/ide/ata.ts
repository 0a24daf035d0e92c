/** ATA register, status, error and command numbers (ATA/ATAPI-7 vol. 1; QEMU's hw/ide/internal.h; FreeBSD's ata.h). */

/** Command block registers, as offsets from the channel's base port (0x1F0 / 0x170). */
export const ATA_REG = {
  data: 0,
  /** Read: error; write: features. */
  error: 1,
  count: 2,
  lbaLow: 3,
  lbaMid: 4,
  lbaHigh: 5,
  device: 6,
  /** Read: status (clears INTRQ); write: command. */
  status: 7,
} as const;

/** Status register bits. */
export const ATA_S = { ERR: 0x01, DRQ: 0x08, DSC: 0x10, DF: 0x20, DRDY: 0x40, BSY: 0x80 } as const;
/** Error register bits. */
export const ATA_E = { ABRT: 0x04, IDNF: 0x10, UNC: 0x40 } as const;
/** Device register bits: drive 1 selected, LBA addressing; bits 5 and 7 are obsolete and read as one. */
export const ATA_D = { DEV: 0x10, LBA: 0x40, OBSOLETE: 0xa0 } as const;
/** Device control register (the control block port, 0x3F6 / 0x376) bits. */
export const ATA_CTL = { nIEN: 0x02, SRST: 0x04, HOB: 0x80 } as const;

/** The commands the emulation carries out; every other one is aborted. */
export const ATA_CMD = {
  READ_SECTORS: 0x20,
  READ_SECTORS_NR: 0x21,
  READ_SECTORS_EXT: 0x24,
  READ_DMA_EXT: 0x25,
  WRITE_SECTORS: 0x30,
  WRITE_SECTORS_NR: 0x31,
  WRITE_SECTORS_EXT: 0x34,
  WRITE_DMA_EXT: 0x35,
  READ_DMA: 0xc8,
  READ_DMA_NR: 0xc9,
  WRITE_DMA: 0xca,
  WRITE_DMA_NR: 0xcb,
  FLUSH_CACHE: 0xe7,
  FLUSH_CACHE_EXT: 0xea,
  IDENTIFY_DEVICE: 0xec,
  SET_FEATURES: 0xef,
} as const;

/** SET FEATURES subcommands accepted (write cache on/off, transfer mode, read look-ahead on/off). */
export const SETFEATURES_ACCEPTED: ReadonlySet<number> = new Set([0x02, 0x03, 0x55, 0x82, 0xaa]);

/** Bytes per sector. */
export const SECTOR = 512;
/** The largest 28-bit LBA + 1. */
export const LBA28_LIMIT = 0x1000_0000;

/** Bus-master IDE registers (BAR4), offsets within one channel's 8 bytes (secondary at +8). */
export const BM_REG = { command: 0, status: 2, prdAddress: 4 } as const;
/** Bus-master command bits: start, and the direction (set: the controller writes memory, i.e. a disk read). */
export const BM_CMD = { START: 0x01, WRITE_MEMORY: 0x08 } as const;
/** Bus-master status bits: active, error (W1C), interrupt (W1C), drive 0/1 DMA capable, simplex. */
export const BM_S = { ACTIVE: 0x01, ERROR: 0x02, INTR: 0x04, DMA0: 0x20, DMA1: 0x40, SIMPLEX: 0x80 } as const;
/** PRD entries: at most a page of them (QEMU's limit); bit 15 of the last word ends the table. */
export const PRD_ENTRY = 8;
export const PRD_MAX_ENTRIES = 512;
export const PRD_EOT = 0x8000;

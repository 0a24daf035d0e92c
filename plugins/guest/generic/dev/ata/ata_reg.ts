/**
 * ATA and bus-master IDE registers as the driver knows them from the specifications (FreeBSD's
 * sys/dev/ata/ata-all.h and ata-pci.h; ATA/ATAPI-7; SFF-8038i). The kernel keeps its own copy.
 */

/** Command block registers: offsets from the channel's base port. */
export const ATA_DATA = 0;
export const ATA_ERROR = 1;
export const ATA_FEATURE = 1;
export const ATA_COUNT = 2;
export const ATA_SECTOR = 3;
export const ATA_CYL_LSB = 4;
export const ATA_CYL_MSB = 5;
export const ATA_DRIVE = 6;
export const ATA_STATUS = 7;
export const ATA_COMMAND = 7;

/** Drive register: obsolete bits 7 and 5, LBA mode, slave. */
export const ATA_D_IBM = 0xa0;
export const ATA_D_LBA = 0x40;
export const ATA_DEV_SLAVE = 0x10;

/** Device control (the control block port): interrupts off, software reset. */
export const ATA_A_IDS = 0x02;
export const ATA_A_RESET = 0x04;

/** Status bits. */
export const ATA_S_ERROR = 0x01;
export const ATA_S_DRQ = 0x08;
export const ATA_S_READY = 0x40;
export const ATA_S_BUSY = 0x80;

/** Commands. */
export const ATA_READ_DMA = 0xc8;
export const ATA_READ_DMA48 = 0x25;
export const ATA_WRITE_DMA = 0xca;
export const ATA_WRITE_DMA48 = 0x35;
export const ATA_FLUSHCACHE = 0xe7;
export const ATA_FLUSHCACHE48 = 0xea;
export const ATA_ATA_IDENTIFY = 0xec;

/** Bus-master registers (BAR4), per channel at +0 (primary) and +8 (secondary). */
export const ATA_BMCMD_PORT = 0;
export const ATA_BMSTAT_PORT = 2;
export const ATA_BMDTP_PORT = 4;
export const ATA_BMCMD_START_STOP = 0x01;
export const ATA_BMCMD_WRITE_READ = 0x08;
export const ATA_BMSTAT_ACTIVE = 0x01;
export const ATA_BMSTAT_ERROR = 0x02;
export const ATA_BMSTAT_INTERRUPT = 0x04;
/** PRD entry: address, byte count, end of table. */
export const ATA_DMA_ENTRY_SIZE = 8;
export const ATA_DMA_EOT = 0x8000_0000;

/** The legacy (compatibility mode) resources of channel 0 and 1. */
export const ATA_LEGACY = [
  { base: 0x1f0, ctl: 0x3f6, irq: 14 },
  { base: 0x170, ctl: 0x376, irq: 15 },
] as const;

/** Bytes per sector. */
export const DEV_BSIZE = 512;

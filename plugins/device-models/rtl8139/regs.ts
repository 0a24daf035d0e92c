/** RTL8139 register offsets and bits (the RTL8139C datasheet; QEMU's hw/net/rtl8139.c; FreeBSD's if_rlreg.h). */

/** Register offsets in the 256-byte I/O (and MMIO) window. */
export const RTL = {
  IDR0: 0x00,
  MAR0: 0x08,
  TSD0: 0x10,
  TSAD0: 0x20,
  RBSTART: 0x30,
  ERBCR: 0x34,
  ERSR: 0x36,
  CR: 0x37,
  CAPR: 0x38,
  CBR: 0x3a,
  IMR: 0x3c,
  ISR: 0x3e,
  TCR: 0x40,
  RCR: 0x44,
  TCTR: 0x48,
  MPC: 0x4c,
  CR9346: 0x50,
  CONFIG0: 0x51,
  CONFIG1: 0x52,
  MSR: 0x58,
  CONFIG3: 0x59,
  CONFIG4: 0x5a,
  MULINT: 0x5c,
  TSAD: 0x60,
  BMCR: 0x62,
  BMSR: 0x64,
  ANAR: 0x66,
  ANLPAR: 0x68,
} as const;

/** Command register. */
export const CR = { BUFE: 0x01, TE: 0x04, RE: 0x08, RST: 0x10 } as const;

/** Interrupt status / mask bits. */
export const INT = { ROK: 0x0001, RER: 0x0002, TOK: 0x0004, TER: 0x0008, RXOVW: 0x0010, PUN: 0x0020, FOVW: 0x0040, LENCHG: 0x2000, TIMEOUT: 0x4000, SERR: 0x8000 } as const;
/** Bits of ISR that exist (write-one-to-clear). */
export const INT_ALL = 0xe07f;

/** Transmit status (TSD0-3). */
export const TSD = { SIZE: 0x1fff, OWN: 0x2000, TUN: 0x4000, TOK: 0x8000, TABT: 0x4000_0000 } as const;

/** Receive configuration. */
export const RCR = { AAP: 0x01, APM: 0x02, AM: 0x04, AB: 0x08, AR: 0x10, AER: 0x20, WRAP: 0x80 } as const;
/** RBLEN (bits 12:11): 8 KiB << n. */
export const RCR_RBLEN_SHIFT = 11;

/** Transmit configuration: loopback mode (bits 18:17 = 11), and the read-only hardware version (RTL8139C). */
export const TCR_LOOPBACK = 0x0006_0000;
export const TCR_HWVER_8139C = 0x7400_0000;
export const TCR_HWVER_MASK = 0x7cc0_0000;

/** Receive packet header status (the first 16 bits before each frame in the ring). */
export const RX = { ROK: 0x0001, BAR: 0x2000, PAM: 0x4000, MAR: 0x8000 } as const;

/** Media status: link down (LINKB) and 10 Mb/s (SPEED_10); both clear: 100 Mb/s with link. */
export const MSR = { LINKB: 0x04, SPEED_10: 0x08 } as const;
/** PHY: BMCR reset (self-clearing); BMSR capabilities, autonegotiation complete, link status. */
export const BMCR_RESET = 0x8000;
export const BMSR_BASE = 0x7809;
export const BMSR_ANEG_COMPLETE = 0x0020;
export const BMSR_LINK = 0x0004;

/** The largest frame the transmitter takes (the datasheet's 1792 bytes), the smallest Ethernet frame it sends. */
export const TX_MAX = 1792;
export const ETHER_HDR = 14;
/** Frames shorter than this are padded on receive (and the FCS follows). */
export const ETHER_MIN = 60;
export const FCS = 4;
/** The receive header: status and length, 16 bits each. */
export const RX_HEADER = 4;

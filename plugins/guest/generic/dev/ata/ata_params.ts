/** IDENTIFY DEVICE data as the driver reads it (FreeBSD's struct ata_params and ata_version/btrim helpers). */

/** What the driver uses of the 256 words. */
export interface AtaParams {
  readonly model: string;
  readonly revision: string;
  readonly serial: string;
  /** Highest ATA major version the drive claims (word 80): 7 for ATA-7. */
  readonly version: number;
  /** LBA48 supported (word 83 bit 10). */
  readonly lba48: boolean;
  /** DMA supported (word 49 bit 8). */
  readonly dma: boolean;
  /** Addressable sectors: words 100-103 for LBA48 drives, else 60-61. */
  readonly sectors: number;
}

function word(data: Uint8Array, n: number): number {
  return (data[2 * n] ?? 0) | ((data[2 * n + 1] ?? 0) << 8);
}

/** An ATA string (high byte of each word first), trailing and leading blanks and NULs trimmed. */
function ataString(data: Uint8Array, first: number, words: number): string {
  let s = '';
  for (let i = 0; i < words; i++) {
    const w = word(data, first + i);
    s += String.fromCharCode(w >> 8, w & 0xff);
  }
  return s.replace(/\0/g, ' ').trim();
}

/** ata_version: the highest bit set in the major version word (0 when the word is 0 or all ones). */
function ataVersion(w: number): number {
  if (w === 0 || w === 0xffff) return 0;
  for (let bit = 15; bit > 0; bit--) if (w & (1 << bit)) return bit;
  return 0;
}

/** Decodes the 512 bytes IDENTIFY DEVICE returned. */
export function parseAtaParams(data: Uint8Array): AtaParams {
  const lba48 = (word(data, 83) & 0xc400) === 0x4400;
  let sectors = word(data, 60) + word(data, 61) * 0x1_0000;
  if (lba48) {
    const big = word(data, 100) + word(data, 101) * 2 ** 16 + word(data, 102) * 2 ** 32 + word(data, 103) * 2 ** 48;
    if (big > 0) sectors = big;
  }
  return {
    model: ataString(data, 27, 20),
    revision: ataString(data, 23, 4),
    serial: ataString(data, 10, 10),
    version: ataVersion(word(data, 80)),
    lba48,
    dma: (word(data, 49) & 0x0100) !== 0,
    sectors,
  };
}

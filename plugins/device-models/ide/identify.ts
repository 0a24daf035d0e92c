/** The IDENTIFY DEVICE data of an emulated ATA disk (ATA/ATAPI-7 §6.17, the words QEMU's ide_identify fills). */
import { LBA28_LIMIT } from './ata.js';

/** What the 256 words describe. */
export interface IdentifyInfo {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** Up to 20 characters. */
  readonly serial: string;
  /** Up to 8 characters. */
  readonly firmware: string;
  /** Up to 40 characters. */
  readonly model: string;
  readonly writeCache: boolean;
}

const HEADS = 16;
const SECTORS_PER_TRACK = 63;
const MAX_CYLINDERS = 16383;

/** The drive's CHS geometry: 16 heads, 63 sectors per track, cylinders capped at 16383. */
export function chsGeometry(sectors: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  return { cylinders: Math.max(1, Math.min(MAX_CYLINDERS, Math.floor(sectors / (HEADS * SECTORS_PER_TRACK)))), heads: HEADS, sectorsPerTrack: SECTORS_PER_TRACK };
}

/** An ATA string field: two characters per word, the first in the high byte, padded with spaces. */
function putString(words: Uint16Array, first: number, count: number, text: string): void {
  const padded = text.padEnd(count * 2, ' ').slice(0, count * 2);
  for (let i = 0; i < count; i++) words[first + i] = ((padded.charCodeAt(2 * i) & 0xff) << 8) | (padded.charCodeAt(2 * i + 1) & 0xff);
}

/** The 512 bytes IDENTIFY DEVICE returns, little-endian words, with the integrity word (255) set. */
export function identifyData(info: IdentifyInfo): Uint8Array {
  const w = new Uint16Array(256);
  const chs = chsGeometry(info.sectors);
  const chsSectors = chs.cylinders * chs.heads * chs.sectorsPerTrack;
  const lba28 = Math.min(info.sectors, LBA28_LIMIT - 1);
  w[0] = 0x0040; // fixed disk
  w[1] = chs.cylinders;
  w[3] = chs.heads;
  w[6] = chs.sectorsPerTrack;
  putString(w, 10, 10, info.serial);
  putString(w, 23, 4, info.firmware);
  putString(w, 27, 20, info.model);
  w[47] = 0x8000; // READ/WRITE MULTIPLE: not supported
  w[49] = (1 << 11) | (1 << 9) | (1 << 8); // IORDY, LBA, DMA
  w[50] = 0x4000;
  w[51] = 0x0200;
  w[52] = 0x0200;
  w[53] = 0x0007; // words 54-58, 64-70 and 88 are valid
  w[54] = chs.cylinders;
  w[55] = chs.heads;
  w[56] = chs.sectorsPerTrack;
  w[57] = chsSectors & 0xffff;
  w[58] = Math.floor(chsSectors / 0x1_0000) & 0xffff;
  w[60] = lba28 & 0xffff;
  w[61] = Math.floor(lba28 / 0x1_0000) & 0xffff;
  w[63] = 0x0007 | 0x0400; // multiword DMA 0-2 supported, mode 2 selected
  w[64] = 0x0003; // PIO 3 and 4
  w[65] = w[66] = w[67] = w[68] = 120;
  w[80] = 0x00f0; // ATA-4 to ATA-7
  w[81] = 0x0016;
  w[82] = (1 << 14) | (1 << 5); // NOP-style "valid" bit, write cache supported
  w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10); // FLUSH CACHE EXT, FLUSH CACHE, 48-bit LBA
  w[84] = 1 << 14;
  w[85] = (1 << 14) | (info.writeCache ? 1 << 5 : 0);
  w[86] = (1 << 13) | (1 << 12) | (1 << 10);
  w[87] = 1 << 14;
  w[88] = 0x003f; // Ultra DMA 0-5 supported, none selected (PIIX3 does not do UDMA)
  w[93] = 0x6001; // hardware reset result: device 0 passed
  for (let i = 0; i < 4; i++) w[100 + i] = Math.floor(info.sectors / 2 ** (16 * i)) & 0xffff;
  const bytes = new Uint8Array(512);
  const view = new DataView(bytes.buffer);
  w.forEach((word, i) => view.setUint16(2 * i, word, true));
  bytes[510] = 0xa5;
  let sum = 0;
  for (let i = 0; i < 511; i++) sum += bytes[i]!;
  bytes[511] = -sum & 0xff;
  return bytes;
}

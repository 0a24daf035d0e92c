/**
 * The CMOS bytes outside the clock (0x0E–0x7F) as QEMU's pc_cmos_init and hvmloader leave them for an
 * HVM guest: base, extended and high memory sizes, the century, the CPU count, and the checksum.
 */
import type { DomainConfig } from '../../../core/api/index.js';

/** CMOS offsets (QEMU's hw/i386/pc.c and hw/rtc/mc146818rtc.h). */
export const CMOS = {
  baseMemLo: 0x15,
  baseMemHi: 0x16,
  extMemLo: 0x17,
  extMemHi: 0x18,
  checksumHi: 0x2e,
  checksumLo: 0x2f,
  extMem2Lo: 0x30,
  extMem2Hi: 0x31,
  century: 0x32,
  mem16mLo: 0x34,
  mem16mHi: 0x35,
  mem4g: 0x5b,
  cpus: 0x5f,
} as const;

/** Xen's HVM_BELOW_4G_RAM_END: RAM stops here below 4 GiB, the MMIO hole follows. */
export const BELOW_4G_RAM_END = 0xf000_0000;
const MiB = 1 << 20;

/** Fills `cmos` (128 bytes) with the memory-size and CPU bytes for a guest of `config`. */
export function initCmos(cmos: Uint8Array, config: Pick<DomainConfig, 'memoryBytes' | 'vcpus'>): void {
  const below4g = Math.min(config.memoryBytes, BELOW_4G_RAM_END);
  const above4g = Math.max(config.memoryBytes - BELOW_4G_RAM_END, 0);
  const put16 = (lo: number, value: number): void => {
    cmos[lo] = value & 0xff;
    cmos[lo + 1] = (value >> 8) & 0xff;
  };
  put16(CMOS.baseMemLo, 640);
  const ext = Math.min(Math.max(Math.floor((below4g - MiB) / 1024), 0), 0xffff);
  put16(CMOS.extMemLo, ext);
  put16(CMOS.extMem2Lo, ext);
  put16(CMOS.mem16mLo, Math.min(Math.max(Math.floor((below4g - 16 * MiB) / 65536), 0), 0xffff));
  const high = Math.floor(above4g / 65536);
  cmos[CMOS.mem4g] = high & 0xff;
  cmos[CMOS.mem4g + 1] = (high >> 8) & 0xff;
  cmos[CMOS.mem4g + 2] = (high >> 16) & 0xff;
  cmos[CMOS.cpus] = Math.max(config.vcpus - 1, 0) & 0xff;
  updateChecksum(cmos);
}

/** The standard checksum: the sum of bytes 0x10–0x2D, big-endian at 0x2E/0x2F. */
export function updateChecksum(cmos: Uint8Array): void {
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += cmos[i]!;
  cmos[CMOS.checksumHi] = (sum >> 8) & 0xff;
  cmos[CMOS.checksumLo] = sum & 0xff;
}

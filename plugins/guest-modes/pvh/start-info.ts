/**
 * A PVH guest's boot structures (after libxc's PVH layout): RAM at frames 0..N-1; `hvm_start_info` at
 * 0x1000, its memory map at 0x1100, the command line at 0x1400; the xenstore and console rings at
 * libxc's special pages 0xfeffc and 0xfefff, named by HVM params.
 */
import type { GuestMemory } from '../../../core/api/index.js';
import {
  HVM_MEMMAP_ENTRY_SIZE,
  HVM_START_INFO_SIZE,
  HVM_START_MAGIC,
  HvmStartInfo,
  MAX_GUEST_CMDLINE,
  MEMMAP_TYPE,
  PAGE_SIZE,
  SPECIALPAGE,
  SPECIALPAGE_BASE,
  SPECIALPAGE_COUNT,
  guestPhysAddr,
} from '../../../core/public/index.js';

export const PVH_START_INFO_ADDR = 0x1000;
export const PVH_MEMMAP_ADDR = 0x1100;
export const PVH_CMDLINE_ADDR = 0x1400;
export const PVH_STORE_GFN = SPECIALPAGE_BASE + SPECIALPAGE.xenstore;
export const PVH_CONSOLE_GFN = SPECIALPAGE_BASE + SPECIALPAGE.console;
/** The smallest PVH guest: its command line must end inside RAM. */
export const PVH_MINIMUM_PAGES = Math.ceil((PVH_CMDLINE_ADDR + MAX_GUEST_CMDLINE) / PAGE_SIZE);

/** A NUL-terminated command line, cut at MAX_GUEST_CMDLINE − 1 bytes. */
function cmdlineBytes(cmdline: string): Uint8Array {
  const text = Buffer.from(cmdline, 'utf8').subarray(0, MAX_GUEST_CMDLINE - 1);
  const bytes = new Uint8Array(text.length + 1);
  bytes.set(text);
  return bytes;
}

/** Writes `hvm_start_info` v1, its memory map and command line; returns the bytes written. */
export function writePvhStartInfo(mem: GuestMemory, ramBytes: number, cmdline: string): number {
  const info = new DataView(new ArrayBuffer(HVM_START_INFO_SIZE));
  info.setUint32(HvmStartInfo.magic, HVM_START_MAGIC, true);
  info.setUint32(HvmStartInfo.version, 1, true);
  info.setBigUint64(HvmStartInfo.cmdlinePaddr, BigInt(PVH_CMDLINE_ADDR), true);
  info.setBigUint64(HvmStartInfo.memmapPaddr, BigInt(PVH_MEMMAP_ADDR), true);
  info.setUint32(HvmStartInfo.memmapEntries, 2, true);
  const map = new DataView(new ArrayBuffer(2 * HVM_MEMMAP_ENTRY_SIZE));
  map.setBigUint64(0, 0n, true);
  map.setBigUint64(8, BigInt(ramBytes), true);
  map.setUint32(16, MEMMAP_TYPE.ram, true);
  map.setBigUint64(HVM_MEMMAP_ENTRY_SIZE, BigInt(SPECIALPAGE_BASE * PAGE_SIZE), true);
  map.setBigUint64(HVM_MEMMAP_ENTRY_SIZE + 8, BigInt(SPECIALPAGE_COUNT * PAGE_SIZE), true);
  map.setUint32(HVM_MEMMAP_ENTRY_SIZE + 16, MEMMAP_TYPE.reserved, true);
  const line = cmdlineBytes(cmdline);
  mem.write(guestPhysAddr(PVH_START_INFO_ADDR), new Uint8Array(info.buffer));
  mem.write(guestPhysAddr(PVH_MEMMAP_ADDR), new Uint8Array(map.buffer));
  mem.write(guestPhysAddr(PVH_CMDLINE_ADDR), line);
  return HVM_START_INFO_SIZE + map.byteLength + line.length;
}

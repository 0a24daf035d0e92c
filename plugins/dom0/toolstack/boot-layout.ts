/**
 * Where the builder puts things in a new guest's memory, and the boot structures it writes there —
 * the fixed addresses the reference kernel's early boot expects (plugins/guest/generic).
 *
 * PVH (after libxc's PVH layout): RAM at frames 0..N-1; `hvm_start_info` at 0x1000, its memory map at
 * 0x1100, the command line at 0x1400; the xenstore and console rings at libxc's special pages 0xfeffc
 * and 0xfefff, named by HVM params. PV: `start_info` at pseudo-physical 0x2000, the xenstore and console
 * rings at 0x3000 and 0x4000, the P2M list (one u64 MFN per frame) at 0x100000. PV guests start with
 * paging off until the PV MMU builds initial page tables (issue 6), so RSI holds a pseudo-physical address.
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
  PV_START_INFO_MAGIC,
  PV_START_INFO_SIZE,
  PvStartInfo,
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

export const PV_START_INFO_ADDR = 0x2000;
export const PV_STORE_PFN = 3;
export const PV_CONSOLE_PFN = 4;
export const PV_P2M_LIST_ADDR = 0x10_0000;

/** The smallest guest the layouts fit: the PV P2M list must end inside RAM. */
export function minimumPages(type: 'pv' | 'pvh' | 'hvm', pages: number): number {
  return type === 'pv' ? Math.ceil((PV_P2M_LIST_ADDR + pages * 8) / PAGE_SIZE) : Math.ceil((PVH_CMDLINE_ADDR + MAX_GUEST_CMDLINE) / PAGE_SIZE);
}

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

/** What PV `start_info` says. */
export interface PvStartInfoFields {
  nrPages: number;
  /** Machine address of the shared-info page. */
  sharedInfoMaddr: number;
  storeMfn: number;
  storeEvtchn: number;
  consoleMfn: number;
  consoleEvtchn: number;
  /** MFN of each pseudo-physical frame. */
  p2m: readonly number[];
  cmdline: string;
}

/** Writes PV `start_info` and the P2M list; returns the bytes written. */
export function writePvStartInfo(mem: GuestMemory, f: PvStartInfoFields): number {
  const info = new Uint8Array(PV_START_INFO_SIZE);
  const view = new DataView(info.buffer);
  info.set(Buffer.from(PV_START_INFO_MAGIC, 'ascii'), PvStartInfo.magic);
  view.setBigUint64(PvStartInfo.nrPages, BigInt(f.nrPages), true);
  view.setBigUint64(PvStartInfo.sharedInfo, BigInt(f.sharedInfoMaddr), true);
  view.setBigUint64(PvStartInfo.storeMfn, BigInt(f.storeMfn), true);
  view.setUint32(PvStartInfo.storeEvtchn, f.storeEvtchn, true);
  view.setBigUint64(PvStartInfo.consoleMfn, BigInt(f.consoleMfn), true);
  view.setUint32(PvStartInfo.consoleEvtchn, f.consoleEvtchn, true);
  view.setBigUint64(PvStartInfo.mfnList, BigInt(PV_P2M_LIST_ADDR), true);
  info.set(cmdlineBytes(f.cmdline), PvStartInfo.cmdLine);
  mem.write(guestPhysAddr(PV_START_INFO_ADDR), info);
  const list = new DataView(new ArrayBuffer(f.p2m.length * 8));
  f.p2m.forEach((mfn, pfn) => list.setBigUint64(pfn * 8, BigInt(mfn), true));
  mem.write(guestPhysAddr(PV_P2M_LIST_ADDR), new Uint8Array(list.buffer));
  return PV_START_INFO_SIZE + list.byteLength;
}

/**
 * A PV guest's boot structures (libxc's xc_dom_x86 for x86_64, simplified): the pseudo-physical layout
 * and `start_info`. Pseudo-physical 0x2000 holds start_info, frames 3 and 4 the xenstore and console
 * rings, 0x100000 the P2M list (one u64 MFN per frame), and the initial page tables follow the list.
 * The kernel maps VA = pseudo-physical address, so these addresses are its virtual addresses too.
 */
import type { GuestMemory } from '../../../core/api/index.js';
import { MAX_GUEST_CMDLINE, PAGE_SIZE, PV_START_INFO_MAGIC, PV_START_INFO_SIZE, PvStartInfo, guestPhysAddr } from '../../../core/public/index.js';

export const PV_START_INFO_ADDR = 0x2000;
export const PV_STORE_PFN = 3;
export const PV_CONSOLE_PFN = 4;
export const PV_P2M_LIST_ADDR = 0x10_0000;

/** The first frame after the P2M list of a `pages`-frame guest: where the page tables start. */
export function p2mListEnd(pages: number): number {
  return Math.ceil((PV_P2M_LIST_ADDR + pages * 8) / PAGE_SIZE);
}

/** A NUL-terminated command line, cut at MAX_GUEST_CMDLINE − 1 bytes. */
export function cmdlineBytes(cmdline: string): Uint8Array {
  const text = Buffer.from(cmdline, 'utf8').subarray(0, MAX_GUEST_CMDLINE - 1);
  const bytes = new Uint8Array(text.length + 1);
  bytes.set(text);
  return bytes;
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
  /** Virtual address of the initial page tables' L4 and their number of frames (0 when none). */
  ptBase: number;
  nrPtFrames: number;
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
  view.setBigUint64(PvStartInfo.ptBase, BigInt(f.ptBase), true);
  view.setBigUint64(PvStartInfo.nrPtFrames, BigInt(f.nrPtFrames), true);
  view.setBigUint64(PvStartInfo.mfnList, BigInt(PV_P2M_LIST_ADDR), true);
  info.set(cmdlineBytes(f.cmdline), PvStartInfo.cmdLine);
  mem.write(guestPhysAddr(PV_START_INFO_ADDR), info);
  const list = new DataView(new ArrayBuffer(f.p2m.length * 8));
  f.p2m.forEach((mfn, pfn) => list.setBigUint64(pfn * 8, BigInt(mfn), true));
  mem.write(guestPhysAddr(PV_P2M_LIST_ADDR), new Uint8Array(list.buffer));
  return PV_START_INFO_SIZE + list.byteLength;
}

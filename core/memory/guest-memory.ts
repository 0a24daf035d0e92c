/** One domain's guest-physical memory as devices and the hypervisor see it: P2M-checked, never partially written. */
import { GuestError } from '../api/errors.js';
import type { GuestMemory, MachineMemory, P2m } from '../api/memory.js';
import { PAGE_MASK, PAGE_SIZE } from '../public/memory.js';
import type { GuestFrame, GuestPhysAddr, MachineFrame } from '../public/types.js';
import { p2mReadable, p2mTypeName, p2mWritable } from './p2m.js';

/** Why a guest-physical range cannot be accessed. */
export type GuestRangeFaultReason = 'unmapped' | 'read-only' | 'no-access';

/** The first page of a range that refused the access. */
export interface GuestRangeFault {
  /** Guest-physical address of the failing page's first byte in the range. */
  readonly addr: number;
  readonly gfn: number;
  readonly reason: GuestRangeFaultReason;
  readonly p2mType: number;
}

/** Highest guest-physical address + 1 (48 bits). */
const GPA_LIMIT = 2 ** 48;

/**
 * Resolves `[addr, addr + length)` page by page through `p2m` into `frames` (machine frame of each page,
 * in order). Returns `null` when every page allows the access, else the first failing page; callers
 * then touch nothing, which is how "nothing partial is written" is kept.
 */
export function resolveGuestRange(p2m: P2m, addr: number, length: number, write: boolean, frames: number[]): GuestRangeFault | null {
  frames.length = 0;
  if (length === 0) return null;
  const first = Math.floor(addr / PAGE_SIZE);
  const last = Math.floor((addr + length - 1) / PAGE_SIZE);
  for (let gfn = first; gfn <= last; gfn++) {
    const mfn = p2m.mfnOf(gfn as GuestFrame);
    const at = gfn === first ? addr : gfn * PAGE_SIZE;
    if (mfn < 0) return { addr: at, gfn, reason: 'unmapped', p2mType: p2m.typeOf(gfn as GuestFrame) };
    const type = p2m.typeOf(gfn as GuestFrame);
    if (write ? !p2mWritable(type) : !p2mReadable(type)) {
      return { addr: at, gfn, reason: write && p2mReadable(type) ? 'read-only' : 'no-access', p2mType: type };
    }
    frames.push(mfn);
  }
  return null;
}

/** Copies machine bytes for a resolved range into `out`. Unbacked frames read as zeroes without being backed. */
export function copyFromFrames(memory: MachineMemory, frames: readonly number[], addr: number, out: Uint8Array): void {
  let offset = addr & PAGE_MASK;
  let done = 0;
  for (const mfn of frames) {
    const n = Math.min(PAGE_SIZE - offset, out.length - done);
    if (memory.isBacked(mfn as MachineFrame)) out.set(memory.frameBytes(mfn as MachineFrame).subarray(offset, offset + n), done);
    done += n;
    offset = 0;
  }
}

/** Copies `data` into the machine frames of a resolved range. */
export function copyToFrames(memory: MachineMemory, frames: readonly number[], addr: number, data: Uint8Array): void {
  let offset = addr & PAGE_MASK;
  let done = 0;
  for (const mfn of frames) {
    const n = Math.min(PAGE_SIZE - offset, data.length - done);
    memory.frameBytes(mfn as MachineFrame).set(data.subarray(done, done + n), offset);
    done += n;
    offset = 0;
  }
}

/** Throws unless `[addr, addr + length)` is a valid guest-physical range. */
export function checkGuestRange(addr: number, length: number, domid: number): void {
  if (!(Number.isInteger(addr) && addr >= 0 && Number.isInteger(length) && length >= 0 && addr + length <= GPA_LIMIT)) {
    throw new GuestError('EFAULT', `guest-physical range 0x${addr.toString(16)}+${length} is invalid`, { domid });
  }
}

/**
 * {@link GuestMemory} of one domain over its P2M. Every page of an access is checked before any byte
 * moves; an unmapped page or a write to a read-only type throws `GuestError('EFAULT')`.
 */
/** Outcomes of {@link DomainGuestMemory.page}. */
export const PAGE_OK = 0;
/** The page is allowed but has never been touched: it reads as zeroes (and is not backed by reading). */
export const PAGE_ZERO = 1;
/** Not a single allowed page: use the general path, which throws the precise error. */
export const PAGE_SLOW = 2;

export class DomainGuestMemory implements GuestMemory {
  private readonly frames: number[] = [];
  /** After {@link page} returned PAGE_OK: the frame's bytes; the access starts at `addr & PAGE_MASK`. */
  pageBytes: Uint8Array | null = null;
  /** The last page {@link page} resolved, dropped whenever the P2M changes that gfn. */
  private cachedGfn = -1;
  private cachedMfn = -1;
  private cachedReadable = false;
  private cachedWritable = false;
  private cachedBytes: Uint8Array | null = null;

  constructor(
    private readonly memory: MachineMemory,
    private readonly p2m: P2m,
  ) {
    p2m.onChange((gfn, count) => {
      if (this.cachedGfn >= gfn && this.cachedGfn < gfn + count) this.cachedGfn = -1;
    });
  }

  read(addr: GuestPhysAddr, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.resolve(addr, length, false);
    copyFromFrames(this.memory, this.frames, addr, out);
    return out;
  }

  write(addr: GuestPhysAddr, data: Uint8Array): void {
    this.resolve(addr, data.length, true);
    copyToFrames(this.memory, this.frames, addr, data);
  }

  readU32(addr: GuestPhysAddr): number {
    if ((addr & 3) === 0) {
      this.resolve(addr, 4, false);
      const mfn = this.frames[0]! as MachineFrame;
      return this.memory.isBacked(mfn) ? this.memory.frameWords(mfn)[(addr & PAGE_MASK) >> 2]! : 0;
    }
    const b = this.read(addr, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  writeU32(addr: GuestPhysAddr, value: number): void {
    if ((addr & 3) === 0) {
      this.resolve(addr, 4, true);
      this.memory.frameWords(this.frames[0]! as MachineFrame)[(addr & PAGE_MASK) >> 2] = value >>> 0;
      return;
    }
    this.write(addr, new Uint8Array([value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff]));
  }

  /**
   * The fast path of an access that stays inside one page: checks the P2M and, on PAGE_OK, leaves the
   * frame's bytes in {@link pageBytes}. Allocates nothing.
   */
  page(addr: number, length: number, write: boolean): number {
    const offset = addr & PAGE_MASK;
    if (!(addr >= 0 && addr < GPA_LIMIT && length > 0 && offset + length <= PAGE_SIZE && Number.isInteger(addr))) return PAGE_SLOW;
    const gfn = Math.floor(addr / PAGE_SIZE);
    if (gfn !== this.cachedGfn) {
      const mfn = this.p2m.mfnOf(gfn as GuestFrame);
      if (mfn < 0) return PAGE_SLOW;
      const type = this.p2m.typeOf(gfn as GuestFrame);
      this.cachedGfn = gfn;
      this.cachedMfn = mfn;
      this.cachedReadable = p2mReadable(type);
      this.cachedWritable = p2mWritable(type);
      this.cachedBytes = this.memory.isBacked(mfn as MachineFrame) ? this.memory.frameBytes(mfn as MachineFrame) : null;
    }
    if (write ? !this.cachedWritable : !this.cachedReadable) return PAGE_SLOW;
    if (this.cachedBytes === null) {
      if (!write) return PAGE_ZERO;
      this.cachedBytes = this.memory.frameBytes(this.cachedMfn as MachineFrame);
    }
    this.pageBytes = this.cachedBytes;
    return PAGE_OK;
  }

  private resolve(addr: number, length: number, write: boolean): void {
    const domid = this.p2m.domid;
    checkGuestRange(addr, length, domid);
    const fault = resolveGuestRange(this.p2m, addr, length, write, this.frames);
    if (fault === null) return;
    const at = `guest-physical 0x${fault.addr.toString(16)} (gfn 0x${fault.gfn.toString(16)})`;
    const why =
      fault.reason === 'unmapped'
        ? 'is not mapped'
        : fault.reason === 'read-only'
          ? `is ${p2mTypeName(fault.p2mType)}: read-only`
          : `is ${p2mTypeName(fault.p2mType)}: not accessible`;
    throw new GuestError('EFAULT', `${write ? 'write to' : 'read of'} ${at} ${why}`, { domid });
  }
}

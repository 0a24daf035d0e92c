/**
 * The physical page allocator: hands out free RAM frames the boot structures do not use, takes frames
 * back (the balloon gives them to Xen that way), and counts what is free.
 */
import { PAGE_SIZE } from '../../../../core/public/index.js';

/** A range of guest frames, `[start, end)`. */
export interface FrameRange {
  readonly start: number;
  readonly end: number;
}

/** The frames covering bytes `[addr, addr + length)`. */
export function framesOf(addr: number, length: number): FrameRange {
  return { start: Math.floor(addr / PAGE_SIZE), end: Math.ceil((addr + Math.max(length, 1)) / PAGE_SIZE) };
}

export class PhysAllocator {
  /** 1 = RAM frame in use (or not RAM at all); indexed by frame. */
  private readonly used: Uint8Array;
  private free = 0;

  /** `ram`: usable frames; `reserved`: frames the boot structures hold. Frame 0 is never handed out. */
  constructor(
    private readonly ram: readonly FrameRange[],
    reserved: readonly FrameRange[],
  ) {
    const top = Math.max(1, ...ram.map((r) => r.end));
    this.used = new Uint8Array(top).fill(1);
    for (const r of ram) this.used.fill(0, r.start, r.end);
    for (const r of [{ start: 0, end: 1 }, ...reserved]) this.used.fill(1, Math.min(r.start, top), Math.min(r.end, top));
    for (const b of this.used) if (b === 0) this.free++;
  }

  /** Frames of RAM in all. */
  get ramFrames(): number {
    return this.ram.reduce((n, r) => n + (r.end - r.start), 0);
  }

  /** Frames free now. */
  get freeFrames(): number {
    return this.free;
  }

  private take(f: number): number {
    this.used[f] = 1;
    this.free--;
    return f;
  }

  /** The lowest free frame; throws when RAM is exhausted. */
  allocate(): number {
    const f = this.used.indexOf(0);
    if (f < 0) throw new Error('vm_phys: out of free frames');
    return this.take(f);
  }

  /** The highest free frame, or undefined (the balloon takes from the top, leaving boot memory alone). */
  allocateHigh(): number | undefined {
    const f = this.used.lastIndexOf(0);
    return f < 0 ? undefined : this.take(f);
  }

  /** Gives frame `f` back; freeing a frame that is not an allocated RAM frame is an error. */
  release(f: number): void {
    if (!this.ram.some((r) => f >= r.start && f < r.end) || this.used[f] !== 1 || f === 0) throw new Error(`vm_phys: frame 0x${f.toString(16)} is not allocated RAM`);
    this.used[f] = 0;
    this.free++;
  }
}

/** The early physical page allocator: hands out free RAM frames the boot structures do not use. */
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
  private readonly taken: FrameRange[];
  private next = 0;

  /** `ram`: usable frames; `reserved`: frames the boot structures hold. Frame 0 is never handed out. */
  constructor(
    private readonly ram: readonly FrameRange[],
    reserved: readonly FrameRange[],
  ) {
    this.taken = [{ start: 0, end: 1 }, ...reserved];
  }

  /** Frames of RAM in all. */
  get ramFrames(): number {
    return this.ram.reduce((n, r) => n + (r.end - r.start), 0);
  }

  /** The lowest free frame; throws when RAM is exhausted. */
  allocate(): number {
    for (const r of this.ram) {
      for (let f = Math.max(r.start, this.next); f < r.end; f++) {
        if (this.taken.some((t) => f >= t.start && f < t.end)) continue;
        this.taken.push({ start: f, end: f + 1 });
        this.next = f + 1;
        return f;
      }
    }
    throw new Error('vm_phys: out of free frames');
  }
}

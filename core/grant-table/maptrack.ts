/** A mapper's maptrack: one slot per live grant mapping, found by its handle; typed arrays, no per-map allocation. */

const INITIAL_SLOTS = 64;

/**
 * The arrays of a maptrack that never mapped: shared and empty, so a domain that maps no grant (most
 * idle guests) pays nothing for its maptrack; the first handle allocates {@link INITIAL_SLOTS} slots.
 * Nothing writes them: slots are only written below `top`, which is 0 until then.
 */
const NONE = { u8: new Uint8Array(0), u16: new Uint16Array(0), u32: new Uint32Array(0), i32: new Int32Array(0), f64: new Float64Array(0) } as const;

/** What a host mapping replaced, so unmap can put it back. */
export const OldEntry = {
  /** Nothing was there (P2M: unmapped; PTE: not present). */
  none: 0,
  /** A P2M entry: `old0` = mfn, `old1` = p2m type. */
  p2m: 1,
  /** A PTE: `old0` = low word, `old1` = high word. */
  pte: 2,
} as const;

/**
 * Slots indexed by handle. A slot is live while `flags` is non-zero (GNTMAP_host_map and/or
 * GNTMAP_device_map remain). Freed handles are reused last-freed-first, as Xen's free list does.
 */
export class Maptrack {
  /** GNTMAP_* still held (0: free slot). */
  flags = NONE.u32;
  granter = NONE.u16;
  ref = NONE.u32;
  mfn = NONE.f64;
  /** gpa, va, or PTE machine address given to map. */
  hostAddr = NONE.f64;
  /** Machine address of the PTE written (PV host mappings). */
  pteMaddr = NONE.f64;
  oldKind = NONE.u8;
  old0 = NONE.f64;
  old1 = NONE.f64;
  /** 1 once the granter died and the mapping was torn out. */
  revoked = NONE.u8;
  private free = NONE.i32;
  private freeCount = 0;
  /** Slots ever handed out (handles below this exist). */
  private top = 0;
  private live = 0;

  constructor(public maxEntries: number) {}

  /** Handles in use. */
  get inUse(): number {
    return this.live;
  }

  /** Highest handle ever handed out + 1. */
  get size(): number {
    return this.top;
  }

  /** A free handle, or −1 when the maptrack is full. The caller fills the slot. */
  allocate(): number {
    let h: number;
    if (this.freeCount > 0) h = this.free[--this.freeCount]!;
    else {
      if (this.top >= this.maxEntries) return -1;
      if (this.top === this.flags.length) this.resize(Math.min(Math.max(this.flags.length * 2, INITIAL_SLOTS), Math.max(this.maxEntries, INITIAL_SLOTS)));
      h = this.top++;
    }
    this.live++;
    return h;
  }

  /** Whether `handle` names a live mapping. */
  isLive(handle: number): boolean {
    return handle >= 0 && handle < this.top && this.flags[handle] !== 0;
  }

  /** Frees a handle whose mapping is gone. */
  release(handle: number): void {
    this.flags[handle] = 0;
    this.revoked[handle] = 0;
    this.oldKind[handle] = OldEntry.none;
    this.free[this.freeCount++] = handle;
    this.live--;
  }

  private resize(n: number): void {
    const grow = <T extends Uint32Array | Uint16Array | Uint8Array | Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a as never);
      return b;
    };
    this.flags = grow(this.flags, (k) => new Uint32Array(k));
    this.granter = grow(this.granter, (k) => new Uint16Array(k));
    this.ref = grow(this.ref, (k) => new Uint32Array(k));
    this.mfn = grow(this.mfn, (k) => new Float64Array(k));
    this.hostAddr = grow(this.hostAddr, (k) => new Float64Array(k));
    this.pteMaddr = grow(this.pteMaddr, (k) => new Float64Array(k));
    this.oldKind = grow(this.oldKind, (k) => new Uint8Array(k));
    this.old0 = grow(this.old0, (k) => new Float64Array(k));
    this.old1 = grow(this.old1, (k) => new Float64Array(k));
    this.revoked = grow(this.revoked, (k) => new Uint8Array(k));
    this.free = grow(this.free, (k) => new Int32Array(k));
  }
}

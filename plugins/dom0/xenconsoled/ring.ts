/** The console ring, `struct xencons_interface` (io/console.h), in a guest's page: reading out[], writing in[]. */
import type { GuestMemory } from '../../../core/api/index.js';
import { PAGE_SIZE, XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface, guestPhysAddr } from '../../../core/public/index.js';

/** The guest broke the ring's invariant (prod − cons beyond the ring's size): nothing it says can be trusted. */
export class CorruptRingError extends Error {}

/**
 * One domain's console page at guest frame `gfn`. Indexes are free-running u32s masked by the ring's
 * size − 1. Every access goes through the guest's memory view, so a page the guest no longer owns throws.
 */
export class ConsoleRing {
  private readonly base: number;

  constructor(
    private readonly mem: GuestMemory,
    readonly gfn: number,
  ) {
    this.base = gfn * PAGE_SIZE;
  }

  /** Throws unless the page is mapped (reads out_prod). */
  probe(): void {
    this.u32(XenconsInterface.outProd);
  }

  /** Takes everything between out_cons and out_prod and advances out_cons; empty when there is nothing. */
  readOut(): Uint8Array {
    const cons = this.u32(XenconsInterface.outCons);
    const prod = this.u32(XenconsInterface.outProd);
    const avail = (prod - cons) >>> 0;
    if (avail > XENCONS_OUT_SIZE) throw new CorruptRingError(`out indexes cons ${cons} prod ${prod} (${avail} bytes > ${XENCONS_OUT_SIZE})`);
    if (avail === 0) return new Uint8Array(0);
    const bytes = this.copyOut(XenconsInterface.out, XENCONS_OUT_SIZE, cons, avail);
    this.setU32(XenconsInterface.outCons, prod);
    return bytes;
  }

  /** Puts as much of `bytes` into in[] as there is room for, advances in_prod, and returns how many went in. */
  writeIn(bytes: Uint8Array): number {
    const cons = this.u32(XenconsInterface.inCons);
    const prod = this.u32(XenconsInterface.inProd);
    const used = (prod - cons) >>> 0;
    if (used > XENCONS_IN_SIZE) throw new CorruptRingError(`in indexes cons ${cons} prod ${prod} (${used} bytes > ${XENCONS_IN_SIZE})`);
    const n = Math.min(XENCONS_IN_SIZE - used, bytes.length);
    if (n === 0) return 0;
    this.copyIn(XenconsInterface.in, XENCONS_IN_SIZE, prod, bytes.subarray(0, n));
    this.setU32(XenconsInterface.inProd, (prod + n) >>> 0);
    return n;
  }

  private u32(off: number): number {
    return this.mem.readU32(guestPhysAddr(this.base + off)) >>> 0;
  }

  private setU32(off: number, value: number): void {
    this.mem.writeU32(guestPhysAddr(this.base + off), value >>> 0);
  }

  private copyOut(area: number, size: number, index: number, length: number): Uint8Array {
    const start = index & (size - 1);
    const first = Math.min(length, size - start);
    const out = new Uint8Array(length);
    out.set(this.mem.read(guestPhysAddr(this.base + area + start), first));
    if (first < length) out.set(this.mem.read(guestPhysAddr(this.base + area), length - first), first);
    return out;
  }

  private copyIn(area: number, size: number, index: number, bytes: Uint8Array): void {
    const start = index & (size - 1);
    const first = Math.min(bytes.length, size - start);
    this.mem.write(guestPhysAddr(this.base + area + start), bytes.subarray(0, first));
    if (first < bytes.length) this.mem.write(guestPhysAddr(this.base + area), bytes.subarray(first));
  }
}

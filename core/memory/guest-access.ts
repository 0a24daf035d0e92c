/** The typed little-endian helpers every GuestAccess shares, over its own `read` and `write`. */
import type { GuestAccess } from '../api/memory.js';

const TWO_64 = 1n << 64n;

/** Implements the typed accessors of {@link GuestAccess} with `read`/`write`; subclasses supply those two. */
export abstract class GuestAccessBase implements GuestAccess {
  abstract read(addr: number, length: number): Uint8Array;
  abstract write(addr: number, data: Uint8Array): void;

  readInto(addr: number, into: Uint8Array): void {
    into.set(this.read(addr, into.length));
  }

  readU8(addr: number): number {
    return this.read(addr, 1)[0]!;
  }
  readU16(addr: number): number {
    const b = this.read(addr, 2);
    return b[0]! | (b[1]! << 8);
  }
  readU32(addr: number): number {
    const b = this.read(addr, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  readU64(addr: number): number {
    const b = this.read(addr, 8);
    const lo = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    const hi = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
    return hi * 2 ** 32 + lo;
  }
  readU64Big(addr: number): bigint {
    const b = this.read(addr, 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  writeU8(addr: number, value: number): void {
    this.write(addr, Uint8Array.of(value & 0xff));
  }
  writeU16(addr: number, value: number): void {
    this.write(addr, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff));
  }
  writeU32(addr: number, value: number): void {
    this.write(addr, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff));
  }
  writeU64(addr: number, value: number): void {
    this.writeU64Big(addr, BigInt(Math.trunc(value)));
  }
  writeU64Big(addr: number, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, ((value % TWO_64) + TWO_64) % TWO_64, true);
    this.write(addr, b);
  }
}

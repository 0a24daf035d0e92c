/** The typed little-endian helpers every GuestAccess shares, over its own `read` and `write`. */
import type { GuestAccess } from '../api/memory.js';

const TWO_64 = 1n << 64n;

/** Implements the typed accessors of {@link GuestAccess} with `read`/`write`; subclasses supply those two. */
export abstract class GuestAccessBase implements GuestAccess {
  abstract read(addr: number, length: number): Uint8Array;
  abstract write(addr: number, data: Uint8Array): void;

  private view(addr: number, length: number): DataView {
    const bytes = this.read(addr, length);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  readU8(addr: number): number {
    return this.read(addr, 1)[0]!;
  }
  readU16(addr: number): number {
    return this.view(addr, 2).getUint16(0, true);
  }
  readU32(addr: number): number {
    return this.view(addr, 4).getUint32(0, true);
  }
  readU64(addr: number): number {
    const v = this.view(addr, 8);
    const hi = v.getInt32(4, true);
    return hi * 2 ** 32 + v.getUint32(0, true);
  }
  readU64Big(addr: number): bigint {
    return this.view(addr, 8).getBigUint64(0, true);
  }

  writeU8(addr: number, value: number): void {
    this.write(addr, Uint8Array.of(value & 0xff));
  }
  writeU16(addr: number, value: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, value, true);
    this.write(addr, b);
  }
  writeU32(addr: number, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.write(addr, b);
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

/** The MMIO bus: physical address ranges claimed by device models, dispatching loads and stores of 1 to 8 bytes. */
import type { IoRegistration, MmioHandler, PortAccessSize } from '../api/io.js';
import type { GuestPhysAddr } from '../public/types.js';
import { RangeTable } from './range-table.js';
import { allOnes, checkSize, truncate, type UnclaimedCounts, type UnclaimedListener } from './io-bus.js';

/** One past the highest physical address (MAXPHYADDR 52). */
export const PHYS_ADDR_LIMIT = 2 ** 52;

const MMIO_SIZES: readonly number[] = [1, 2, 4];
const ALL_ONES_64 = 0xffff_ffff_ffff_ffffn;
const MASK_32 = 0xffff_ffffn;

/**
 * One physical address space's MMIO ranges. `Addr` is the address brand: guest-physical for a
 * domain's emulated platform (the default), machine addresses for the host's own devices.
 * Unclaimed reads return all ones and unclaimed writes are dropped, both counted; straddling throws.
 */
export class MmioBus<Addr extends number = GuestPhysAddr> {
  private readonly table = new RangeTable<MmioHandler>('mmio', 'bytes', PHYS_ADDR_LIMIT);
  /** Unclaimed accesses so far (an 8-byte access counts once). */
  readonly unclaimed: UnclaimedCounts = { reads: 0, writes: 0 };

  constructor(private readonly onUnclaimed?: UnclaimedListener) {}

  /** Claims bytes `start .. start+length-1` for `owner`. Throws a HardwareError naming both owners on overlap. */
  register(start: Addr, length: number, handler: MmioHandler, owner: string): IoRegistration {
    return this.table.insert(start, length, handler, owner);
  }

  /** Claimed ranges in address order. */
  registrations(): readonly IoRegistration[] {
    return this.table.all;
  }

  /** The owner of the byte at `addr`, if claimed. */
  ownerOf(addr: Addr): string | undefined {
    return this.table.find(addr)?.owner;
  }

  /** A load of 1, 2 or 4 bytes. */
  read(addr: Addr, size: PortAccessSize): number {
    checkSize('mmio', size, MMIO_SIZES, addr);
    const range = this.table.route(addr, size, 'read');
    if (range === undefined) {
      this.countUnclaimed('read', addr, size);
      return allOnes(size);
    }
    return truncate(range.handler.read(addr - range.start, size), size);
  }

  /** A store of 1, 2 or 4 bytes. */
  write(addr: Addr, size: PortAccessSize, value: number): void {
    checkSize('mmio', size, MMIO_SIZES, addr);
    const range = this.table.route(addr, size, 'write');
    if (range === undefined) {
      this.countUnclaimed('write', addr, size);
      return;
    }
    range.handler.write(addr - range.start, size, truncate(value, size));
  }

  /** An 8-byte load: the handler's `read64`, or two 4-byte reads (low half first). */
  read64(addr: Addr): bigint {
    const range = this.table.route(addr, 8, 'read');
    if (range === undefined) {
      this.countUnclaimed('read', addr, 8);
      return ALL_ONES_64;
    }
    const offset = addr - range.start;
    const { handler } = range;
    if (handler.read64 !== undefined) return BigInt.asUintN(64, handler.read64(offset));
    const low = truncate(handler.read(offset, 4), 4);
    const high = truncate(handler.read(offset + 4, 4), 4);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** An 8-byte store: the handler's `write64`, or two 4-byte writes (low half first). */
  write64(addr: Addr, value: bigint): void {
    const range = this.table.route(addr, 8, 'write');
    if (range === undefined) {
      this.countUnclaimed('write', addr, 8);
      return;
    }
    const offset = addr - range.start;
    const { handler } = range;
    const v = BigInt.asUintN(64, value);
    if (handler.write64 !== undefined) {
      handler.write64(offset, v);
      return;
    }
    handler.write(offset, 4, Number(v & MASK_32));
    handler.write(offset + 4, 4, Number(v >> 32n));
  }

  private countUnclaimed(access: 'read' | 'write', addr: number, size: number): void {
    if (access === 'read') this.unclaimed.reads++;
    else this.unclaimed.writes++;
    this.onUnclaimed?.(access, addr, size);
  }
}

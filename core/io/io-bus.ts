/** The port-I/O bus: 64 Ki ports, claimed by device models, dispatching `in`/`out` accesses. */
import { HardwareError } from '../api/errors.js';
import type { IoHandler, IoRegistration, PortAccessSize } from '../api/io.js';
import type { IoPort } from '../public/types.js';
import { RangeTable, hex } from './range-table.js';

/** Number of x86 I/O ports. */
export const IO_PORT_COUNT = 0x10000;

/** All ones of an access size: what an unclaimed read returns. */
export function allOnes(size: number): number {
  return size >= 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
}

/** Masks `value` to `size` bytes, unsigned. */
export function truncate(value: number, size: number): number {
  return size >= 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1);
}

/** Throws unless `size` is one of `allowed`. */
export function checkSize(what: string, size: number, allowed: readonly number[], addr: number): void {
  if (!allowed.includes(size)) throw new HardwareError('io-size', `${what}: access of ${size} bytes at ${hex(addr)} (sizes allowed: ${allowed.join(', ')})`);
}

/** Called for every access nobody claimed. */
export type UnclaimedListener = (access: 'read' | 'write', addr: number, size: number) => void;

/** Counts of accesses that found no claimed range. */
export interface UnclaimedCounts {
  reads: number;
  writes: number;
}

const PORT_SIZES: readonly PortAccessSize[] = [1, 2, 4];

/**
 * One port space (each domain's emulated platform owns one). A read nobody claimed returns all ones
 * and a write nobody claimed is dropped; both are counted. An access straddling a range edge throws.
 */
export class IoBus {
  private readonly table = new RangeTable<IoHandler>('io', 'ports', IO_PORT_COUNT);
  /** Unclaimed accesses so far. */
  readonly unclaimed: UnclaimedCounts = { reads: 0, writes: 0 };

  constructor(private readonly onUnclaimed?: UnclaimedListener) {}

  /** Claims ports `start .. start+length-1` for `owner`. Throws a HardwareError naming both owners on overlap. */
  register(start: IoPort, length: number, handler: IoHandler, owner: string): IoRegistration {
    return this.table.insert(start, length, handler, owner);
  }

  /** Claimed ranges in port order. */
  registrations(): readonly IoRegistration[] {
    return this.table.all;
  }

  /** The owner of `port`, if claimed. */
  ownerOf(port: IoPort): string | undefined {
    return this.table.find(port)?.owner;
  }

  /** `in` of `size` bytes at `port`. */
  read(port: IoPort, size: PortAccessSize): number {
    checkSize('io', size, PORT_SIZES, port);
    const range = this.table.route(port, size, 'read');
    if (range === undefined) {
      this.unclaimed.reads++;
      this.onUnclaimed?.('read', port, size);
      return allOnes(size);
    }
    return truncate(range.handler.read(port - range.start, size), size);
  }

  /** `out` of `size` bytes of `value` at `port`. */
  write(port: IoPort, size: PortAccessSize, value: number): void {
    checkSize('io', size, PORT_SIZES, port);
    const range = this.table.route(port, size, 'write');
    if (range === undefined) {
      this.unclaimed.writes++;
      this.onUnclaimed?.('write', port, size);
      return;
    }
    range.handler.write(port - range.start, size, truncate(value, size));
  }
}

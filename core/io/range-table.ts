/** A sorted table of non-overlapping claimed ranges with binary-search lookup, shared by the port and MMIO buses. */
import { HardwareError } from '../api/errors.js';
import type { IoRegistration } from '../api/io.js';

/** Lower-case hex with a `0x` prefix, as every I/O message shows addresses. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** `0x3f8-0x3ff`: an inclusive range in hex. */
export function hexRange(start: number, length: number): string {
  return `${hex(start)}-${hex(start + length - 1)}`;
}

/** One claimed range. `end` is exclusive. */
export class ClaimedRange<H> implements IoRegistration {
  active = true;
  constructor(
    readonly start: number,
    readonly length: number,
    readonly end: number,
    readonly owner: string,
    readonly handler: H,
    private readonly release: (range: ClaimedRange<H>) => void,
  ) {}

  dispose(): void {
    if (!this.active) return;
    this.active = false;
    this.release(this);
  }
}

/**
 * Ranges kept sorted by start. `what` prefixes messages (`io`, `mmio`), `unit` names the elements
 * (`ports`, `bytes`), `limit` is one past the highest valid address.
 */
export class RangeTable<H> {
  private ranges: ClaimedRange<H>[] = [];
  private lastHit: ClaimedRange<H> | undefined;

  constructor(
    readonly what: string,
    readonly unit: string,
    readonly limit: number,
  ) {}

  /** Claimed ranges in address order. */
  get all(): readonly ClaimedRange<H>[] {
    return this.ranges;
  }

  /** Claims `[start, start+length)`; throws a HardwareError naming both owners on overlap. */
  insert(start: number, length: number, handler: H, owner: string): ClaimedRange<H> {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 1 || start + length > this.limit) {
      throw new HardwareError('io-range', `${this.what}: ${this.unit} ${hex(start)} (+${length}) for "${owner}" lie outside ${hexRange(0, this.limit)}`);
    }
    const end = start + length;
    const i = this.lowerBound(start);
    const before = this.ranges[i - 1];
    const after = this.ranges[i];
    const clash = before !== undefined && before.end > start ? before : after !== undefined && after.start < end ? after : undefined;
    if (clash !== undefined) {
      throw new HardwareError(
        'io-overlap',
        `${this.what}: ${this.unit} ${hexRange(start, length)} for "${owner}" overlap ${hexRange(clash.start, clash.length)} already registered by "${clash.owner}"`,
      );
    }
    const range = new ClaimedRange(start, length, end, owner, handler, (r) => this.remove(r));
    this.ranges.splice(i, 0, range);
    return range;
  }

  /** The range containing `addr`, if any. */
  find(addr: number): ClaimedRange<H> | undefined {
    const hit = this.lastHit;
    if (hit !== undefined && hit.active && addr >= hit.start && addr < hit.end) return hit;
    const range = this.ranges[this.lowerBound(addr + 1) - 1];
    if (range === undefined || addr >= range.end) return undefined;
    this.lastHit = range;
    return range;
  }

  /**
   * The range that wholly contains `[addr, addr+size)`, or `undefined` when no range touches it.
   * Throws when the access straddles a range boundary.
   */
  route(addr: number, size: number, access: string): ClaimedRange<H> | undefined {
    const last = addr + size - 1;
    if (last >= this.limit) {
      throw new HardwareError('io-straddle', `${this.what}: ${size}-byte ${access} at ${hex(addr)} runs past the end of the ${this.unit} space`);
    }
    const first = this.find(addr);
    if (first !== undefined && last < first.end) return first;
    const lastRange = size === 1 ? first : this.find(last);
    if (first === undefined && lastRange === undefined && this.nextStartAfter(addr) > last) return undefined;
    const describe = (r: ClaimedRange<H> | undefined) => (r === undefined ? 'unclaimed space' : `${hexRange(r.start, r.length)} ("${r.owner}")`);
    const other = first === undefined ? lastRange ?? this.ranges[this.lowerBound(addr)] : lastRange;
    throw new HardwareError('io-straddle', `${this.what}: ${size}-byte ${access} at ${hex(addr)} straddles ${describe(first)} and ${describe(other)}`);
  }

  private remove(range: ClaimedRange<H>): void {
    const i = this.ranges.indexOf(range);
    if (i >= 0) this.ranges.splice(i, 1);
    if (this.lastHit === range) this.lastHit = undefined;
  }

  private nextStartAfter(addr: number): number {
    return this.ranges[this.lowerBound(addr + 1)]?.start ?? Infinity;
  }

  /** Index of the first range whose start is ≥ `addr`. */
  private lowerBound(addr: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid]!.start < addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

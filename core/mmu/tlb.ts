/** A per-vCPU TLB: set-associative arrays for 4 KiB, 2 MiB and 1 GiB translations, with deterministic eviction. */
import { HardwareError } from '../api/errors.js';
import { HUGE_PAGE_SIZE, LARGE_PAGE_SIZE, PAGE_SIZE } from '../public/memory.js';

/** One page size's entries: `sets × ways`, typed arrays, round-robin victim per set. */
class TlbArray {
  readonly tags: Float64Array;
  readonly mbase: Float64Array;
  readonly permit: Int32Array;
  readonly global: Uint8Array;
  private readonly victim: Uint8Array;
  private readonly setMask: number;
  valid = 0;

  constructor(
    readonly pageSize: number,
    entries: number,
    readonly ways: number,
  ) {
    const sets = entries / ways;
    if (!Number.isInteger(sets) || sets < 1 || (sets & (sets - 1)) !== 0 || ways > 255) {
      throw new HardwareError('tlb-geometry', `tlb: ${entries} entries in ${ways} ways do not make a power-of-two number of sets`);
    }
    this.setMask = sets - 1;
    this.tags = new Float64Array(entries).fill(-1);
    this.mbase = new Float64Array(entries);
    this.permit = new Int32Array(entries);
    this.global = new Uint8Array(entries);
    this.victim = new Uint8Array(sets);
  }

  /** Index of the entry for virtual page `vpn`, or −1. */
  find(vpn: number): number {
    const tags = this.tags;
    const first = (vpn & this.setMask) * this.ways;
    const end = first + this.ways;
    for (let i = first; i < end; i++) if (tags[i] === vpn) return i;
    return -1;
  }

  insert(vpn: number, mbase: number, permit: number, global: boolean): void {
    let i = this.find(vpn);
    if (i < 0) {
      const set = vpn & this.setMask;
      const first = set * this.ways;
      for (let w = 0; w < this.ways; w++) {
        if (this.tags[first + w] === -1) {
          i = first + w;
          break;
        }
      }
      if (i < 0) {
        const w = this.victim[set]!;
        this.victim[set] = (w + 1) % this.ways;
        i = first + w;
      } else this.valid++;
    }
    this.tags[i] = vpn;
    this.mbase[i] = mbase;
    this.permit[i] = permit;
    this.global[i] = global ? 1 : 0;
  }

  /** Drops the entry translating `va`, if any. */
  invalidate(va: number): void {
    const i = this.find(Math.floor(va / this.pageSize));
    if (i >= 0) this.drop(i);
  }

  drop(i: number): void {
    this.tags[i] = -1;
    this.valid--;
  }

  flush(keepGlobal: boolean): void {
    if (this.valid === 0) return;
    const tags = this.tags;
    let valid = 0;
    for (let i = 0; i < tags.length; i++) {
      if (tags[i] === -1) continue;
      if (keepGlobal && this.global[i] === 1) valid++;
      else tags[i] = -1;
    }
    this.valid = valid;
  }
}

/** TLB geometry. Defaults: 512 × 4 KiB entries 4-way, 32 × 2 MiB and 16 × 1 GiB entries 4-way. */
export interface TlbOptions {
  entries?: number;
  ways?: number;
  largeEntries?: number;
  hugeEntries?: number;
}

/**
 * Virtual page → machine page, page size and permitted accesses (see `permitMask`). A lookup that finds
 * the page but not the permission drops the entry and misses, so the walker runs again (as x86 does for
 * a write through a clean entry).
 */
export class Tlb {
  private readonly small: TlbArray;
  private readonly large: TlbArray;
  private readonly huge: TlbArray;

  constructor(options: TlbOptions = {}) {
    const ways = options.ways ?? 4;
    this.small = new TlbArray(PAGE_SIZE, options.entries ?? 512, ways);
    this.large = new TlbArray(LARGE_PAGE_SIZE, options.largeEntries ?? 32, Math.min(ways, options.largeEntries ?? 32));
    this.huge = new TlbArray(HUGE_PAGE_SIZE, options.hugeEntries ?? 16, Math.min(ways, options.hugeEntries ?? 16));
  }

  /** Bumped by every change of the entries (insert, drop, flush): a copy of one entry is good while it holds. */
  epoch = 0;

  /** Entries held, all sizes. */
  get size(): number {
    return this.small.valid + this.large.valid + this.huge.valid;
  }

  /** The machine address for `va` if an entry allows `access`, else −1. */
  lookup(va: number, access: number): number {
    let tlb = this.small;
    let i = tlb.find(Math.floor(va / PAGE_SIZE));
    if (i < 0) {
      tlb = this.large;
      i = tlb.find(Math.floor(va / LARGE_PAGE_SIZE));
      if (i < 0) {
        tlb = this.huge;
        i = tlb.find(Math.floor(va / HUGE_PAGE_SIZE));
        if (i < 0) return -1;
      }
    }
    if (((tlb.permit[i]! >>> access) & 1) === 0) {
      tlb.drop(i);
      this.epoch++;
      return -1;
    }
    return tlb.mbase[i]! + (va & (tlb.pageSize - 1));
  }

  /** Caches a translation of `pageSize` bytes whose machine base is `mbase`. */
  insert(va: number, pageSize: number, mbase: number, permit: number, global: boolean): void {
    const tlb = pageSize === PAGE_SIZE ? this.small : pageSize === LARGE_PAGE_SIZE ? this.large : this.huge;
    tlb.insert(Math.floor(va / pageSize), mbase, permit, global);
    this.epoch++;
  }

  /** Drops every entry, or every non-global one when `keepGlobal`. */
  flush(keepGlobal = false): void {
    this.epoch++;
    this.small.flush(keepGlobal);
    this.large.flush(keepGlobal);
    this.huge.flush(keepGlobal);
  }

  /** Drops any translation of `va`, global or not, at every page size. */
  invlpg(va: number): void {
    this.epoch++;
    this.small.invalidate(va);
    this.large.invalidate(va);
    this.huge.invalidate(va);
  }
}

/** Builds real x86-64 4-level page tables in memory: for domain builders, tests and benchmarks. */
import { HardwareError } from '../api/errors.js';
import { type MachineMemory, type P2m, P2mType } from '../api/memory.js';
import { HUGE_PAGE_SIZE, LARGE_PAGE_SIZE, PAGE_SIZE } from '../public/memory.js';
import {
  PTE_A,
  PTE_ADDR_MASK_HI,
  PTE_ADDR_MASK_LO,
  PTE_D,
  PTE_G,
  PTE_NX_HI,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
} from '../public/paging.js';
import type { DomId, GuestFrame, MachineFrame } from '../public/types.js';
import { LEVEL_SPAN, TWO_32, foldCanonical } from './address.js';


/** Where tables live, in the address space the entries use (machine for PV, guest-physical otherwise). */
export interface PageTableSpace {
  /** A new zeroed table page; returns its address as an entry would hold it. */
  allocTable(): number;
  /** The 1024 words of the table at `addr`. */
  tableWords(addr: number): Uint32Array;
}

/** How {@link PageTableBuilder.map} writes a leaf. Defaults: 4 KiB, writable, supervisor, executable. */
export interface MapOptions {
  size?: number;
  writable?: boolean;
  user?: boolean;
  nx?: boolean;
  global?: boolean;
  /** Pre-set Accessed / Dirty. */
  accessed?: boolean;
  dirty?: boolean;
}

/** Tables in machine frames owned by `owner` (a PV guest's tables). */
export function machineTableSpace(memory: MachineMemory, owner: DomId): PageTableSpace {
  return {
    allocTable: () => memory.allocate(owner, 1)[0]! * PAGE_SIZE,
    tableWords: (addr) => memory.frameWords((addr / PAGE_SIZE) as MachineFrame),
  };
}

/**
 * Tables in guest frames of an auto-translated guest: each table takes a machine frame of `owner` and the
 * next guest frame from `firstGfn` up, mapped `ram_rw` in `p2m`.
 */
export function guestTableSpace(memory: MachineMemory, p2m: P2m, owner: DomId, firstGfn: number): PageTableSpace {
  let nextGfn = firstGfn;
  return {
    allocTable: () => {
      const [mfn] = memory.allocate(owner, 1);
      const gfn = nextGfn++;
      p2m.set(gfn as GuestFrame, mfn!, P2mType.ram_rw);
      return gfn * PAGE_SIZE;
    },
    tableWords: (addr) => {
      const mfn = p2m.mfnOf((addr / PAGE_SIZE) as GuestFrame);
      if (mfn < 0) throw new HardwareError('page-table', `page-table builder: gpa 0x${addr.toString(16)} is not mapped`);
      return memory.frameWords(mfn as MachineFrame);
    },
  };
}

/**
 * A 4-level page-table tree rooted at {@link root} (the CR3 value). Intermediate entries are present,
 * writable and user; the leaf carries the permissions asked for. `entry` and `setEntry` reach any level
 * directly, so tests can build broken tables.
 */
export class PageTableBuilder {
  readonly root: number;

  constructor(
    private readonly space: PageTableSpace,
    root?: number,
  ) {
    this.root = root ?? space.allocTable();
  }

  /** Maps the page containing `vaddr` to the page at `paddr` (both aligned to `options.size`). */
  map(vaddr: number, paddr: number, options: MapOptions = {}): void {
    const size = options.size ?? PAGE_SIZE;
    const leafLevel = size === PAGE_SIZE ? 1 : size === LARGE_PAGE_SIZE ? 2 : size === HUGE_PAGE_SIZE ? 3 : 0;
    if (leafLevel === 0) throw new HardwareError('page-table', `page-table builder: page size ${size} is not 4K, 2M or 1G`);
    const va = this.fold(vaddr);
    if (va % size !== 0 || paddr % size !== 0) throw new HardwareError('page-table', `page-table builder: 0x${va.toString(16)} → 0x${paddr.toString(16)} is not ${size}-aligned`);
    const { words, index } = this.slot(va, leafLevel, true);
    let lo = PTE_P | (options.writable === false ? 0 : PTE_RW) | (options.user ? PTE_US : 0) | (options.global ? PTE_G : 0);
    lo |= (options.accessed ? PTE_A : 0) | (options.dirty ? PTE_D : 0) | (leafLevel > 1 ? PTE_PS : 0);
    words[index] = (lo | ((paddr % TWO_32) & PTE_ADDR_MASK_LO)) >>> 0;
    words[index + 1] = ((Math.floor(paddr / TWO_32) & PTE_ADDR_MASK_HI) | (options.nx ? PTE_NX_HI : 0)) >>> 0;
  }

  /** Clears the leaf entry mapping `vaddr` at `level` (1 for 4K pages). */
  unmap(vaddr: number, level = 1): void {
    this.setEntry(vaddr, level, 0, 0);
  }

  /** The entry for `vaddr` at `level` as `[lo, hi]`, or undefined when a table on the way is missing. */
  entry(vaddr: number, level: number): [number, number] | undefined {
    const slot = this.slot(this.fold(vaddr), level, false);
    return slot === undefined ? undefined : [slot.words[slot.index]!, slot.words[slot.index + 1]!];
  }

  /** Overwrites the entry for `vaddr` at `level`, creating tables above it as needed. */
  setEntry(vaddr: number, level: number, lo: number, hi: number): void {
    const { words, index } = this.slot(this.fold(vaddr), level, true);
    words[index] = lo >>> 0;
    words[index + 1] = hi >>> 0;
  }

  private slot(va: number, level: number, create: true): { words: Uint32Array; index: number };
  private slot(va: number, level: number, create: boolean): { words: Uint32Array; index: number } | undefined;
  private slot(va: number, level: number, create: boolean): { words: Uint32Array; index: number } | undefined {
    let table = this.root;
    for (let l = 4; ; l--) {
      const words = this.space.tableWords(table);
      const index = ((va / LEVEL_SPAN[l]!) & 511) << 1;
      if (l === level) return { words, index };
      let lo = words[index]!;
      if ((lo & PTE_P) === 0) {
        if (!create) return undefined;
        const next = this.space.allocTable();
        lo = (PTE_P | PTE_RW | PTE_US | ((next % TWO_32) & PTE_ADDR_MASK_LO)) >>> 0;
        words[index] = lo;
        words[index + 1] = Math.floor(next / TWO_32);
      } else if ((lo & PTE_PS) !== 0) {
        throw new HardwareError('page-table', `page-table builder: 0x${va.toString(16)} is inside a large page mapped at L${l}`);
      }
      table = (words[index + 1]! & PTE_ADDR_MASK_HI) * TWO_32 + ((lo & PTE_ADDR_MASK_LO) >>> 0);
    }
  }

  private fold(vaddr: number): number {
    const va = foldCanonical(vaddr);
    if (va < 0) throw new HardwareError('page-table', `page-table builder: ${vaddr} is not a canonical address`);
    return va;
  }
}

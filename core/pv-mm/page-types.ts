/**
 * Page types and their counts (Xen's page_info.u.inuse.type_info) and the validation of PV page-table
 * entries, as arch/x86/mm.c does it: a frame becomes an L1..L4 table only when every entry in it is
 * safe, and a frame in use as a table can never also be mapped writable.
 */
import { GuestError, HardwareError } from '../api/errors.js';
import type { MachineMemory } from '../api/memory.js';
import type { PvPageInfo, PvPageType } from '../api/pv-mm.js';
import type { XenErrnoName } from '../public/errno.js';
import { PT_ENTRIES } from '../public/memory.js';
import { PTE_A, PTE_D, PTE_G, PTE_P, PTE_PAT, PTE_PCD, PTE_PWT, PTE_RW, PTE_US } from '../public/paging.js';
import { ROOT_PAGETABLE_FIRST_XEN_SLOT, ROOT_PAGETABLE_LAST_XEN_SLOT } from '../public/pv-mm.js';
import type { MachineFrame } from '../public/types.js';
import { int32Column } from './frame-column.js';

/** A page-table level, 1 (PT) to 4 (PML4). */
export type TableLevel = 1 | 2 | 3 | 4;

/** The page type of a table of each level (index 1..4). */
export const LEVEL_TYPE: readonly PvPageType[] = ['none', 'l1', 'l2', 'l3', 'l4'];

/** The AVAIL bits 9..11 of an entry's low half. */
const PTE_AVAIL = 0xe00;
/** Flags a guest may set at every level (Xen's base_disallow_mask is the complement): P, RW, US, A, D, AVAIL. */
const BASE_ALLOWED_LO = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_AVAIL;
/** _PAGE_GNTTAB: PTE bit 62, reserved for grant mappings in L1 entries (L1_DISALLOW_MASK). */
const GNTTAB_HI = 1 << 30;
/** Flags whose change needs no revalidation (Xen's FASTPATH_FLAG_WHITELIST, low half; NX and AVAIL_HIGH are in the high half). */
const FASTPATH_LO = PTE_US | PTE_A | PTE_D | PTE_G | PTE_AVAIL;
/** Bits 20..31 of the high half: AVAIL_HIGH and NX, also on the fast path. */
const FASTPATH_HI = 0xfff00000;

/** Bits 12..51 of an entry: its frame number (Xen's l1e_get_pfn). */
export function entryMfn(lo: number, hi: number): number {
  return (hi & 0xfffff) * 2 ** 20 + (lo >>> 12);
}

/** Whether slot `index` of an L4 belongs to the guest (is_guest_l4_slot for a 64-bit PV domain). */
export function isGuestL4Slot(index: number): boolean {
  return index < ROOT_PAGETABLE_FIRST_XEN_SLOT || index > ROOT_PAGETABLE_LAST_XEN_SLOT;
}

/** Whether `(oldLo, oldHi)` → `(lo, hi)` changes the frame or a flag off the fast path (l1e_has_changed). */
export function entryHasChanged(oldLo: number, oldHi: number, lo: number, hi: number): boolean {
  return ((oldLo ^ lo) & ~FASTPATH_LO) !== 0 || ((oldHi ^ hi) & ~FASTPATH_HI) !== 0;
}

interface FrameType {
  type: PvPageType;
  count: number;
  pinned: boolean;
  owner: number;
}

/** Page types by code, as the type column stores them. */
const TYPE_CODES: readonly PvPageType[] = ['none', 'l1', 'l2', 'l3', 'l4', 'seg-desc', 'writable'];
const typeCode = (type: PvPageType): number => TYPE_CODES.indexOf(type);

const NO_TYPE: PvPageInfo = { type: 'none', typeCount: 0, pinned: false };

/** Where a refusal happened, for its message. */
export interface EntrySite {
  readonly table: number;
  readonly index: number;
}

function refuse(errno: XenErrnoName, domid: number, detail: string): GuestError {
  return new GuestError(errno, `pv-mm: ${detail}`, { domid });
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function at(site: EntrySite | undefined, level: number): string {
  return site === undefined ? `L${level} entry` : `L${level} entry ${site.index} of mfn ${hex(site.table)}`;
}

/**
 * The type state of every machine frame with a type reference. A frame without a record has type
 * `none` and count 0 (Xen keeps a stale type until the next get_page_type changes it; nothing can
 * observe the difference). Methods throw `GuestError` with Xen's errno and leave no partial references.
 */
export class PageTypes {
  /** Type references per frame; a frame at 0 has no type (its other columns are stale and unread). */
  private readonly count = int32Column();
  private readonly type = int32Column();
  private readonly pinned = int32Column();
  /** Owner + 1 when the type was taken (0: none), so a table freed after its frame changed hands is not walked. */
  private readonly owner = int32Column();
  /**
   * Present L1 entries mapping each frame, read-only ones included (the part of Xen's count_info that
   * L1 mappings hold): a mapped frame must not go back to the host while the mapping exists.
   */
  private readonly mapped = int32Column();

  constructor(
    private readonly memory: MachineMemory,
    /** Domains allowed cache attributes in L1 entries and foreign mappings (Xen: I/O capabilities, XSM_TARGET). */
    private readonly privileged: (domid: number) => boolean,
  ) {}

  info(mfn: number): PvPageInfo {
    const f = this.record(mfn);
    return f === undefined ? NO_TYPE : { type: f.type, typeCount: f.count, pinned: f.pinned };
  }

  /** The type and count of a frame with references, else undefined. */
  record(mfn: number): Readonly<FrameType> | undefined {
    const count = this.count.get(mfn);
    if (count === 0) return undefined;
    return { type: TYPE_CODES[this.type.get(mfn)]!, count, pinned: this.pinned.get(mfn) !== 0, owner: this.owner.get(mfn) - 1 };
  }

  setPinned(mfn: number, pinned: boolean): void {
    if (this.count.get(mfn) === 0) throw new HardwareError('pv-mm', `pv-mm: pinning mfn ${hex(mfn)} without a type reference`);
    this.pinned.set(mfn, pinned ? 1 : 0);
  }

  /**
   * get_page_type: one more reference of type `type` on `mfn`. A frame whose count is 0 takes the
   * type, and a table type is validated first (alloc_page_type); a frame held with another type is
   * refused with EINVAL ("Bad type").
   */
  getType(mfn: number, type: PvPageType, domid: number): void {
    const count = this.count.get(mfn);
    const code = typeCode(type);
    if (count > 0) {
      const held = this.type.get(mfn);
      if (held !== code) throw refuse('EINVAL', domid, `mfn ${hex(mfn)} is in use as ${TYPE_CODES[held]} (count ${count}), not ${type}`);
      this.count.set(mfn, count + 1);
      return;
    }
    this.count.set(mfn, 1);
    this.type.set(mfn, code);
    this.pinned.set(mfn, 0);
    this.owner.set(mfn, (this.memory.ownerOf(mfn as MachineFrame) ?? -1) + 1);
    const level = LEVEL_TYPE.indexOf(type);
    if (level < 1) return;
    try {
      this.validate(mfn, level as TableLevel, domid);
    } catch (error) {
      this.count.set(mfn, 0);
      throw error;
    }
  }

  /** put_page_type: drops a reference; the last one of a table releases every entry's references (free_page_type). */
  putType(mfn: number): void {
    const count = this.count.get(mfn);
    // A frame the guest rewrote behind our back (possible only with paging off) may have lost its record.
    if (count === 0) return;
    this.count.set(mfn, count - 1);
    if (count > 1) return;
    const level = LEVEL_TYPE.indexOf(TYPE_CODES[this.type.get(mfn)]!);
    if (level >= 1 && this.memory.ownerOf(mfn as MachineFrame) === this.owner.get(mfn) - 1) this.devalidate(mfn, level as TableLevel);
  }

  /** get_page_and_type_from_mfn: `mfn` must belong to `domid` (else EINVAL), then {@link getType}. */
  getPageAndType(mfn: number, type: PvPageType, domid: number, site?: EntrySite, level = 0): void {
    const owner = mfn < this.memory.totalFrames ? this.memory.ownerOf(mfn as MachineFrame) : undefined;
    if (owner !== domid) {
      const whose = owner === undefined ? 'a free or nonexistent frame' : `owned by dom${owner}`;
      throw refuse('EINVAL', domid, `${level ? `${at(site, level)}: ` : ''}mfn ${hex(mfn)} is ${whose}`);
    }
    try {
      this.getType(mfn, type, domid);
    } catch (error) {
      if (level === 0 || !(error instanceof GuestError)) throw error;
      throw refuse(error.code as XenErrnoName, domid, `${at(site, level)}: ${error.detail.replace(/^pv-mm: /, '')}`);
    }
  }

  /** The flags of an entry a guest may not set (l1_disallow_mask / L2..L4_DISALLOW_MASK), or 0. */
  disallowedFlags(level: TableLevel, lo: number, hi: number, owner: number): number {
    let allowed = BASE_ALLOWED_LO;
    if (level === 1) allowed |= PTE_G | (this.privileged(owner) ? PTE_PWT | PTE_PCD | PTE_PAT : 0);
    const bad = lo & 0xfff & ~allowed;
    return bad !== 0 ? bad : level === 1 && (hi & GNTTAB_HI) !== 0 ? GNTTAB_HI * 2 ** 32 : 0;
  }

  /**
   * get_page_from_l1e: a present L1 entry of a table owned by `l1Owner` may map a frame of `pgOwner`
   * (the caller, or the foreign domain a privileged caller named); writable mappings take a
   * `writable` type reference, which a page table cannot give (EBUSY).
   */
  getL1e(lo: number, hi: number, l1Owner: number, pgOwner: number, site?: EntrySite): void {
    const bad = this.disallowedFlags(1, lo, hi, l1Owner);
    if (bad !== 0) throw refuse('EINVAL', l1Owner, `${at(site, 1)}: bad L1 flags ${hex(bad)}`);
    const mfn = entryMfn(lo, hi);
    if (mfn >= this.memory.totalFrames) throw refuse('EPERM', l1Owner, `${at(site, 1)}: dom${l1Owner} may not map nonexistent or MMIO frame ${hex(mfn)}`);
    const real = this.memory.ownerOf(mfn as MachineFrame);
    let owner = pgOwner;
    if (real !== owner) {
      if (real === undefined || owner === l1Owner || !this.privileged(owner)) {
        const whose = real === undefined ? 'free' : `owned by dom${real}`;
        throw refuse('EBUSY', l1Owner, `${at(site, 1)}: mfn ${hex(mfn)} is ${whose}, not dom${pgOwner}'s`);
      }
      owner = real;
    }
    if ((lo & PTE_RW) !== 0) {
      try {
        this.getType(mfn, 'writable', l1Owner);
      } catch (error) {
        if (!(error instanceof GuestError)) throw error;
        throw refuse('EBUSY', l1Owner, `${at(site, 1)}: cannot map mfn ${hex(mfn)} writable: ${error.detail.replace(/^pv-mm: /, '')}`);
      }
    }
    this.mapped.set(mfn, this.mapped.get(mfn) + 1);
  }

  /** put_page_from_l1e. */
  putL1e(lo: number, hi: number): void {
    if ((lo & PTE_P) === 0) return;
    const mfn = entryMfn(lo, hi);
    const n = this.mapped.get(mfn);
    this.mapped.set(mfn, n <= 1 ? 0 : n - 1);
    if ((lo & PTE_RW) !== 0) this.putType(mfn);
  }

  /** True while an L1 entry maps `mfn` or it holds a type reference (a page table, a pinned or writable-mapped frame). */
  inUse(mfn: number): boolean {
    return this.mapped.get(mfn) > 0 || this.count.get(mfn) > 0;
  }

  /** get_page_from_l2e / l3e / l4e: the entry must point at a frame of `domid` usable as a table one level down. */
  getUpperEntry(level: 2 | 3 | 4, lo: number, hi: number, domid: number, site?: EntrySite): void {
    const bad = this.disallowedFlags(level, lo, hi, domid);
    if (bad !== 0) throw refuse('EINVAL', domid, `${at(site, level)}: bad L${level} flags ${hex(bad)}`);
    this.getPageAndType(entryMfn(lo, hi), LEVEL_TYPE[level - 1]!, domid, site, level);
  }

  /** get_page_from_lNe for any level. */
  getEntry(level: TableLevel, lo: number, hi: number, ptOwner: number, pgOwner: number, site?: EntrySite): void {
    if (level === 1) this.getL1e(lo, hi, ptOwner, pgOwner, site);
    else this.getUpperEntry(level, lo, hi, ptOwner, site);
  }

  /** put_page_from_lNe for any level. */
  putEntry(level: TableLevel, lo: number, hi: number): void {
    if (level === 1) this.putL1e(lo, hi);
    else if ((lo & PTE_P) !== 0) this.putType(entryMfn(lo, hi));
  }

  /**
   * Forgets the type state of `frames`, the frames `domid` owns (domain_relinquish_resources: its tables
   * are not walked again). Cost follows the domain's size, not the host's.
   */
  dropDomain(domid: number, frames: readonly number[]): number {
    let dropped = 0;
    for (const mfn of frames) {
      if (this.count.get(mfn) > 0 && this.owner.get(mfn) - 1 === domid) {
        this.count.set(mfn, 0);
        dropped++;
      }
      this.mapped.set(mfn, 0);
    }
    return dropped;
  }

  /** Frames holding a type reference, by type (for the debug dump). */
  census(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [mfn] of this.count.entries()) {
      const type = TYPE_CODES[this.type.get(mfn)]!;
      out[type] = (out[type] ?? 0) + 1;
    }
    return out;
  }

  /** alloc_l1_table .. alloc_l4_table: references every present entry, all or nothing; Xen's L4 slots are cleared (init_xen_l4_slots). */
  private validate(mfn: number, level: TableLevel, domid: number): void {
    const words = this.memory.frameWords(mfn as MachineFrame);
    const taken: number[] = [];
    try {
      for (let i = 0; i < PT_ENTRIES; i++) {
        if (level === 4 && !isGuestL4Slot(i)) continue;
        const lo = words[2 * i]!;
        if ((lo & PTE_P) === 0) continue;
        this.getEntry(level, lo, words[2 * i + 1]!, domid, domid, { table: mfn, index: i });
        taken.push(i);
      }
    } catch (error) {
      for (const i of taken) this.putEntry(level, words[2 * i]!, words[2 * i + 1]!);
      throw error;
    }
    if (level === 4) words.fill(0, 2 * ROOT_PAGETABLE_FIRST_XEN_SLOT, 2 * (ROOT_PAGETABLE_LAST_XEN_SLOT + 1));
  }

  /** free_l1_table .. free_l4_table. */
  private devalidate(mfn: number, level: TableLevel): void {
    const words = this.memory.frameWords(mfn as MachineFrame);
    for (let i = 0; i < PT_ENTRIES; i++) {
      if (level === 4 && !isGuestL4Slot(i)) continue;
      this.putEntry(level, words[2 * i]!, words[2 * i + 1]!);
    }
  }
}

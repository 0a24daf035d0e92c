/** A domain's physical-to-machine map, kept as real 4-level EPT tables in hypervisor-owned machine frames. */
import { GfnIndex } from './gfn-index.js';
import { HardwareError } from '../api/errors.js';
import { type MachineMemory, type P2m, type P2mChangeListener, type P2mEntry, P2mType } from '../api/memory.js';
import { LARGE_PAGE_SIZE, PAGE_SIZE, PT_ENTRIES } from '../public/memory.js';
import {
  EPT_MT_SHIFT,
  EPT_MT_UC,
  EPT_MT_WB,
  EPT_P2MT_SHIFT_HI,
  EPT_PS,
  EPT_R,
  EPT_RWX,
  EPT_W,
  EPT_X,
  EPTP_WALK_LENGTH_SHIFT,
  PADDR_BITS,
  PTE_ADDR_MASK_HI,
} from '../public/paging.js';
import { DOMID_XEN } from '../public/xen.js';
import { type DomId, type GuestFrame, type MachineFrame, domId } from '../public/types.js';

/** Guest-physical addresses have 48 bits under 4-level EPT. */
const MAX_GFN = 2 ** (48 - 12);
const MAX_MFN = 2 ** (PADDR_BITS - 12);
const TYPE_BITS = 32;
const XEN = domId(DOMID_XEN);
/** The listeners of a P2M nobody watches (shared: listener lists are replaced, never modified). */
const NO_LISTENERS: readonly P2mChangeListener[] = [];
const P2M_TYPE_NAMES = new Map<number, string>(Object.entries(P2mType).map(([name, value]) => [value, name]));

/** EPT access bits for each p2m type (Xen's ept_p2m_type_to_flags); types not listed get none. */
const TYPE_ACCESS = new Map<number, number>([
  [P2mType.ram_rw, EPT_RWX],
  [P2mType.ram_logdirty, EPT_R | EPT_X],
  [P2mType.ram_ro, EPT_R | EPT_X],
  [P2mType.mmio_direct, EPT_R | EPT_W],
  [P2mType.grant_map_rw, EPT_R | EPT_W],
  [P2mType.grant_map_ro, EPT_R],
  [P2mType.map_foreign, EPT_R | EPT_W],
]);

/** The EPT access bits (R/W/X) a p2m type grants. */
export function p2mTypeAccess(type: number): number {
  return TYPE_ACCESS.get(type) ?? 0;
}
/** Whether the hypervisor or a device may read through an entry of this type. */
export function p2mReadable(type: number): boolean {
  return (p2mTypeAccess(type) & EPT_R) !== 0;
}
/** Whether the hypervisor or a device may write through an entry of this type. */
export function p2mWritable(type: number): boolean {
  return (p2mTypeAccess(type) & EPT_W) !== 0;
}
/** The name of a p2m type (`ram_rw`...). */
export function p2mTypeName(type: number): string {
  return P2M_TYPE_NAMES.get(type) ?? `p2m type ${type}`;
}

function isRam(type: number): boolean {
  return type === P2mType.ram_rw || type === P2mType.ram_ro || type === P2mType.ram_logdirty;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * {@link P2m} over an EPT in machine memory. Every table is a frame owned by DOMID_XEN; leaf entries carry
 * the access bits of their type and, like Xen's `sa_p2mt`, the type itself in bits 52..57. A GfnIndex
 * holds the same entries for the hypervisor's lookups (value = mfn * 32 + type).
 */
export class EptP2m implements P2m {
  readonly rootMfn: MachineFrame;
  private readonly small = new GfnIndex();
  /** 2 MiB entries, keyed by gfn / 512. */
  private readonly large = new Map<number, number>();
  private readonly tables = new Set<number>();
  /** L1 tables by gfn / 512, so setting or clearing a 4 KiB entry does not walk from the root each time. */
  private readonly l1Cache = new Map<number, Uint32Array>();
  /** Replaced, never modified, on (un)registration: rare, and a listener may unregister while being called. */
  private listeners: readonly P2mChangeListener[] = NO_LISTENERS;
  private destroyed = false;

  constructor(
    private readonly memory: MachineMemory,
    readonly domid: DomId,
  ) {
    this.rootMfn = this.newTable();
  }

  get eptp(): number {
    return this.rootMfn * PAGE_SIZE + (3 << EPTP_WALK_LENGTH_SHIFT) + EPT_MT_WB;
  }

  get entryCount(): number {
    return this.small.size + this.large.size * PT_ENTRIES;
  }

  get tableFrameCount(): number {
    return this.tables.size;
  }

  // --- operations --------------------------------------------------------------------------------

  set(gfn: GuestFrame, mfn: MachineFrame, type: P2mType): void {
    this.checkEntry(gfn, mfn, type, 1);
    const l1 = this.table(gfn, 1);
    const i = (gfn % PT_ENTRIES) * 2;
    const hadEntry = this.small.has(gfn);
    writeLeaf(l1, i, mfn, type, false);
    this.small.set(gfn, mfn * TYPE_BITS + type);
    if (hadEntry) this.changed(gfn, 1);
  }

  setLarge(gfn: GuestFrame, mfn: MachineFrame, type: P2mType): void {
    if (gfn % PT_ENTRIES !== 0 || mfn % PT_ENTRIES !== 0) {
      throw new HardwareError('p2m-align', `p2m: 2 MiB entry needs 512-aligned frames, got gfn ${hex(gfn)} → mfn ${hex(mfn)}`, { domid: this.domid });
    }
    this.checkEntry(gfn, mfn, type, PT_ENTRIES);
    const l2 = this.table(gfn, 2);
    const i = (Math.floor(gfn / PT_ENTRIES) % PT_ENTRIES) * 2;
    const key = gfn / PT_ENTRIES;
    let hadEntries = this.large.has(key);
    if (!hadEntries && isTable(l2[i]!)) {
      const l1Mfn = entryFrame(l2[i]!, l2[i + 1]!);
      for (let g = gfn; g < gfn + PT_ENTRIES; g++) if (this.small.delete(g)) hadEntries = true;
      this.l1Cache.delete(key);
      this.tables.delete(l1Mfn);
      this.memory.free(XEN, l1Mfn as MachineFrame);
    }
    writeLeaf(l2, i, mfn, type, true);
    this.large.set(key, mfn * TYPE_BITS + type);
    if (hadEntries) this.changed(gfn, PT_ENTRIES);
  }

  clear(gfn: GuestFrame): boolean {
    this.checkLive();
    if (!this.small.has(gfn) && !this.large.has(Math.floor(gfn / PT_ENTRIES))) return false;
    const l1 = this.table(gfn, 1);
    const i = (gfn % PT_ENTRIES) * 2;
    l1[i] = 0;
    l1[i + 1] = P2mType.invalid << EPT_P2MT_SHIFT_HI;
    this.small.delete(gfn);
    this.changed(gfn, 1);
    return true;
  }

  lookup(gfn: GuestFrame): P2mEntry | undefined {
    const packed = this.small.get(gfn);
    if (packed >= 0) return { mfn: Math.floor(packed / TYPE_BITS) as MachineFrame, type: (packed % TYPE_BITS) as P2mType, pageSize: PAGE_SIZE };
    const big = this.large.get(Math.floor(gfn / PT_ENTRIES));
    if (big === undefined) return undefined;
    return { mfn: (Math.floor(big / TYPE_BITS) + (gfn % PT_ENTRIES)) as MachineFrame, type: (big % TYPE_BITS) as P2mType, pageSize: LARGE_PAGE_SIZE };
  }

  mfnOf(gfn: GuestFrame): number {
    const packed = this.small.get(gfn);
    if (packed >= 0) return Math.floor(packed / TYPE_BITS);
    const big = this.large.get(Math.floor(gfn / PT_ENTRIES));
    return big === undefined ? -1 : Math.floor(big / TYPE_BITS) + (gfn % PT_ENTRIES);
  }

  typeOf(gfn: GuestFrame): P2mType {
    const small = this.small.get(gfn);
    const packed = small >= 0 ? small : this.large.get(Math.floor(gfn / PT_ENTRIES));
    return (packed === undefined ? P2mType.invalid : packed % TYPE_BITS) as P2mType;
  }

  onChange(listener: P2mChangeListener): () => void {
    this.listeners = this.listeners.concat(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners = this.listeners.slice(0, i).concat(this.listeners.slice(i + 1));
    };
  }

  destroy(): void {
    if (this.destroyed) return;
    for (const mfn of this.tables) this.memory.free(XEN, mfn as MachineFrame);
    this.tables.clear();
    this.l1Cache.clear();
    this.small.clear();
    this.large.clear();
    this.listeners = NO_LISTENERS;
    this.destroyed = true;
  }

  *entries(): IterableIterator<[GuestFrame, MachineFrame, P2mType]> {
    const large = [...this.large].sort((a, b) => a[0] - b[0]);
    const small = this.small[Symbol.iterator]();
    let next = small.next();
    for (const [key, packed] of large) {
      const base = key * PT_ENTRIES;
      // Small entries never overlap a 2 MiB one (setLarge drops them), so the two merge by gfn.
      for (; !next.done && next.value[0] < base; next = small.next()) yield unpack(next.value[0], next.value[1]);
      const mfn = Math.floor(packed / TYPE_BITS);
      const type = (packed % TYPE_BITS) as P2mType;
      for (let i = 0; i < PT_ENTRIES; i++) yield [(base + i) as GuestFrame, (mfn + i) as MachineFrame, type];
    }
    for (; !next.done; next = small.next()) yield unpack(next.value[0], next.value[1]);
  }

  /** A debug dump: one line per mapped run of frames. */
  dump(): string {
    const lines = [`p2m dom${this.domid}: ${this.entryCount} frames, ${this.tables.size} table frames, eptp ${hex(this.eptp)}`];
    for (const [key, packed] of [...this.large].sort((a, b) => a[0] - b[0])) {
      lines.push(`  gfn ${hex(key * PT_ENTRIES)} +512 → mfn ${hex(Math.floor(packed / TYPE_BITS))} ${p2mTypeName(packed % TYPE_BITS)} (2M)`);
    }
    for (const [gfn, packed] of [...this.small].sort((a, b) => a[0] - b[0])) {
      lines.push(`  gfn ${hex(gfn)} → mfn ${hex(Math.floor(packed / TYPE_BITS))} ${p2mTypeName(packed % TYPE_BITS)}`);
    }
    return lines.join('\n');
  }

  // --- helpers -----------------------------------------------------------------------------------

  /** The table at `level` (1 or 2) covering `gfn`, creating tables on the way and splitting a 2 MiB entry. */
  private table(gfn: number, level: 1 | 2): Uint32Array {
    if (level === 1) {
      const key = Math.floor(gfn / PT_ENTRIES);
      const cached = this.l1Cache.get(key);
      if (cached !== undefined) return cached;
      const l1 = this.walkTo(gfn, 1);
      this.l1Cache.set(key, l1);
      return l1;
    }
    return this.walkTo(gfn, level);
  }

  private walkTo(gfn: number, level: 1 | 2): Uint32Array {
    let words = this.memory.frameWords(this.rootMfn);
    for (let l = 4; l > level; l--) {
      const i = (Math.floor(gfn / 2 ** (9 * (l - 1))) % PT_ENTRIES) * 2;
      const lo = words[i]!;
      if (l === 2 && this.large.has(Math.floor(gfn / PT_ENTRIES))) {
        words = this.split(words, i, Math.floor(gfn / PT_ENTRIES));
      } else if ((lo & EPT_RWX) === 0) {
        const mfn = this.newTable();
        words[i] = tableEntryLo(mfn);
        words[i + 1] = Math.floor(mfn / 2 ** 20);
        words = this.memory.frameWords(mfn);
      } else {
        words = this.memory.frameWords(entryFrame(lo, words[i + 1]!) as MachineFrame);
      }
    }
    return words;
  }

  /** Replaces the 2 MiB entry at `l2[i]` by an L1 table of 512 equivalent entries (ept_split_super_page). */
  private split(l2: Uint32Array, i: number, key: number): Uint32Array {
    const packed = this.large.get(key)!;
    const base = Math.floor(packed / TYPE_BITS);
    const type = packed % TYPE_BITS;
    const mfn = this.newTable();
    const l1 = this.memory.frameWords(mfn);
    for (let j = 0; j < PT_ENTRIES; j++) {
      writeLeaf(l1, j * 2, base + j, type, false);
      this.small.set(key * PT_ENTRIES + j, (base + j) * TYPE_BITS + type);
    }
    this.large.delete(key);
    l2[i] = tableEntryLo(mfn);
    l2[i + 1] = Math.floor(mfn / 2 ** 20);
    return l1;
  }

  private newTable(): MachineFrame {
    const [mfn] = this.memory.allocate(XEN, 1);
    this.tables.add(mfn!);
    return mfn!;
  }

  private changed(gfn: number, count: number): void {
    for (const listener of this.listeners) listener(gfn as GuestFrame, count);
  }

  private checkEntry(gfn: number, mfn: number, type: number, frames: number): void {
    this.checkLive();
    const where = { domid: this.domid };
    if (!(Number.isInteger(gfn) && gfn >= 0 && gfn + frames <= MAX_GFN)) throw new HardwareError('p2m-range', `p2m: gfn ${hex(gfn)} is outside the 48-bit guest-physical space`, where);
    if (!(Number.isInteger(mfn) && mfn >= 0 && mfn + frames <= MAX_MFN)) throw new HardwareError('p2m-range', `p2m: mfn ${hex(mfn)} is outside the ${PADDR_BITS}-bit machine space`, where);
    if (!P2M_TYPE_NAMES.has(type)) throw new HardwareError('p2m-type', `p2m: unknown p2m type ${type} for gfn ${hex(gfn)}`, where);
    if (isRam(type)) {
      const f = this.memory.firstNotOwned(this.domid, mfn as MachineFrame, frames);
      if (f >= 0) {
        const owner = this.memory.ownerOf(f as MachineFrame);
        const held = owner === undefined ? 'free' : `owned by dom${owner}`;
        throw new HardwareError('p2m-owner', `p2m: cannot map gfn ${hex(gfn + f - mfn)} as ${p2mTypeName(type)} to mfn ${hex(f)}: it is ${held}`, where);
      }
    }
  }

  private checkLive(): void {
    if (this.destroyed) throw new HardwareError('p2m-destroyed', `p2m of dom${this.domid} used after destroy()`, { domid: this.domid });
  }
}

function unpack(gfn: number, packed: number): [GuestFrame, MachineFrame, P2mType] {
  return [gfn as GuestFrame, Math.floor(packed / TYPE_BITS) as MachineFrame, (packed % TYPE_BITS) as P2mType];
}

function tableEntryLo(mfn: number): number {
  return ((mfn << 12) | EPT_RWX) >>> 0;
}

function writeLeaf(words: Uint32Array, i: number, mfn: number, type: number, large: boolean): void {
  const memType = type === P2mType.mmio_direct ? EPT_MT_UC : EPT_MT_WB;
  words[i] = ((mfn << 12) | (memType << EPT_MT_SHIFT) | (large ? EPT_PS : 0) | p2mTypeAccess(type)) >>> 0;
  words[i + 1] = (Math.floor(mfn / 2 ** 20) | (type << EPT_P2MT_SHIFT_HI)) >>> 0;
}

function isTable(lo: number): boolean {
  return (lo & EPT_RWX) !== 0 && (lo & EPT_PS) === 0;
}

/** The frame an entry points at (address bits 12..45). */
export function entryFrame(lo: number, hi: number): number {
  return (hi & PTE_ADDR_MASK_HI) * 2 ** 20 + (lo >>> 12);
}

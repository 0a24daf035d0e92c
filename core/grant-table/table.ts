/** One domain's grant table: its v1 entries in frames it owns, the active (pinned) state of each entry, and its maptrack. */
import { P2mType, type MachineMemory, type P2m } from '../api/memory.js';
import { GNTST, GRANT_ENTRIES_PER_FRAME_V1, GTF } from '../public/grant-table.js';
import type { DomId, GuestFrame, MachineFrame } from '../public/types.js';
import { Maptrack } from './maptrack.js';

const ENTRY_SHIFT = 9;
const ENTRY_MASK = GRANT_ENTRIES_PER_FRAME_V1 - 1;

/** The active entries of a table never pinned: shared, empty (never written: a pin allocates first). */
const NO_PINS = new Uint32Array(0);
const NO_MFNS = new Float64Array(0);
const NO_DOMIDS = new Uint16Array(0);

/**
 * The granter side (entries and pins) and the mapper side (maptrack) of one domain. Entries are read
 * and written through typed-array views of the table frames: u16 index `4·i` is entry i's flags, `4·i+1`
 * its domid, u32 index `2·i+1` its frame. Pins count the uses Xen's `act->pin` counts; the cached
 * `activeMfn`/`activeDomid` of a pinned entry are what later uses trust, whatever the guest writes.
 */
export class GrantTable {
  /** The table's frames. This and the per-frame lists below are replaced by exact-size copies as the table grows (rarely). */
  frames: readonly MachineFrame[] = [];
  /** Where memory_op mapped each frame in the domain's P2M (−1: not known). */
  frameGfns: number[] = [];
  readonly maptrack: Maptrack;
  private halves: readonly Uint16Array[] = [];
  private words: readonly Uint32Array[] = [];
  /**
   * Read-only and writable uses of each entry (host maps, device maps, copies in flight), with the
   * active frame and grantee: Xen's `active_grant_entry`s. Allocated on the first pin and then grown with
   * the table, so a domain whose grants nobody uses (most idle ones) pays nothing for them.
   */
  private readPins = NO_PINS;
  private writePins = NO_PINS;
  private activeMfn = NO_MFNS;
  private activeDomid = NO_DOMIDS;

  constructor(
    readonly domid: DomId,
    /** Auto-translated (HVM/PVH): entries hold GFNs and host mappings go into the P2M. */
    readonly translated: boolean,
    private readonly memory: MachineMemory,
    public maxFrames: number,
    maxMaptrackEntries: number,
  ) {
    this.maptrack = new Maptrack(maxMaptrackEntries);
  }

  get nrEntries(): number {
    return this.frames.length << ENTRY_SHIFT;
  }

  // --- growth --------------------------------------------------------------------------------

  /** Grows to `nr` frames (frames owned by the domain, outside its reservation). False past the maximum. */
  grow(nr: number): boolean {
    if (nr > this.maxFrames) return false;
    if (nr <= this.frames.length) return true;
    const added = this.memory.allocate(this.domid, nr - this.frames.length);
    const bytes = added.map((mfn) => this.memory.frameBytes(mfn));
    this.frames = this.frames.concat(added);
    this.frameGfns = this.frameGfns.concat(added.map(() => -1));
    this.halves = this.halves.concat(bytes.map((b) => new Uint16Array(b.buffer, b.byteOffset, b.byteLength >> 1)));
    this.words = this.words.concat(bytes.map((b) => new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2)));
    if (this.readPins !== NO_PINS) this.growActive();
    return true;
  }

  /** Sizes the active entries to the table. */
  private growActive(): void {
    const n = this.nrEntries;
    this.readPins = grown(this.readPins, new Uint32Array(n));
    this.writePins = grown(this.writePins, new Uint32Array(n));
    this.activeMfn = grown(this.activeMfn, new Float64Array(n));
    this.activeDomid = grown(this.activeDomid, new Uint16Array(n));
  }

  /** The GFN of frame `i` as setup_table reports it to an auto-translated guest (~0 when not mapped). */
  frameGfn(i: number, p2m: P2m | undefined): number {
    const gfn = this.frameGfns[i] ?? -1;
    return gfn >= 0 && p2m !== undefined && p2m.mfnOf(gfn as GuestFrame) === this.frames[i] ? gfn : -1;
  }

  // --- entries -------------------------------------------------------------------------------

  flagsOf(ref: number): number {
    return this.halves[ref >>> ENTRY_SHIFT]![(ref & ENTRY_MASK) << 2]!;
  }
  domidOf(ref: number): number {
    return this.halves[ref >>> ENTRY_SHIFT]![((ref & ENTRY_MASK) << 2) + 1]!;
  }
  frameOf(ref: number): number {
    return this.words[ref >>> ENTRY_SHIFT]![((ref & ENTRY_MASK) << 1) + 1]!;
  }

  /** Writes a whole entry, flags last (as a granter publishes one). */
  writeEntry(ref: number, flags: number, domid: number, frame: number): void {
    const h = this.halves[ref >>> ENTRY_SHIFT]!;
    const i = (ref & ENTRY_MASK) << 2;
    h[i + 1] = domid;
    this.words[ref >>> ENTRY_SHIFT]![((ref & ENTRY_MASK) << 1) + 1] = frame >>> 0;
    h[i] = flags;
  }

  private setFlags(ref: number, set: number, clear: number): void {
    const h = this.halves[ref >>> ENTRY_SHIFT]!;
    const i = (ref & ENTRY_MASK) << 2;
    h[i] = (h[i]! | set) & ~clear;
  }

  /** True while a map or copy holds the entry. */
  pinned(ref: number): boolean {
    return ref < this.readPins.length && this.readPins[ref]! + this.writePins[ref]! > 0;
  }

  /** The machine frame a pinned entry resolved to. */
  mfnOf(ref: number): number {
    return this.activeMfn[ref]!;
  }

  // --- pins ----------------------------------------------------------------------------------

  /**
   * Pins entry `ref` for a use by `grantee` (Xen's _set_status + get_paged_frame): checks the entry's
   * type, grantee and read-only rule, resolves its frame to a machine frame the granter owns, and sets
   * GTF_reading (and GTF_writing). Returns GNTST_okay, or the refusal's status with nothing changed.
   */
  acquire(ref: number, grantee: number, readonly: boolean, p2m: P2m | undefined): number {
    if (!(ref >= 0 && ref < this.nrEntries)) return GNTST.bad_gntref;
    if (this.readPins === NO_PINS) this.growActive();
    const flags = this.flagsOf(ref);
    const pinned = this.readPins[ref]! + this.writePins[ref]! > 0;
    if (pinned) {
      if (this.activeDomid[ref] !== grantee) return GNTST.general_error;
    } else if ((flags & (GTF.type_mask | GTF.sub_page)) !== GTF.permit_access || this.domidOf(ref) !== grantee) {
      return GNTST.general_error;
    }
    if (!readonly && (flags & GTF.readonly) !== 0) return GNTST.permission_denied;
    if (!pinned) {
      const mfn = this.resolveFrame(this.frameOf(ref), readonly, p2m);
      if (mfn < 0) return GNTST.bad_page;
      this.activeMfn[ref] = mfn;
      this.activeDomid[ref] = grantee;
    }
    if (readonly) {
      this.readPins[ref]!++;
      this.setFlags(ref, GTF.reading, 0);
    } else {
      this.writePins[ref]!++;
      this.setFlags(ref, GTF.reading | GTF.writing, 0);
    }
    return GNTST.okay;
  }

  /** Drops one use taken by {@link acquire}; clears GTF_writing with the last writable use and GTF_reading with the last. */
  release(ref: number, readonly: boolean): void {
    if (readonly) this.readPins[ref]!--;
    else this.writePins[ref]!--;
    const w = this.writePins[ref]!;
    const clear = (w === 0 ? GTF.writing : 0) | (w + this.readPins[ref]! === 0 ? GTF.reading : 0);
    if (clear !== 0) this.setFlags(ref, 0, clear);
  }

  /** A granted frame number to the granter's machine frame, or −1 (not the granter's RAM; RAM read-only for a write). */
  private resolveFrame(frame: number, readonly: boolean, p2m: P2m | undefined): number {
    let mfn = frame;
    if (this.translated) {
      if (p2m === undefined) return -1;
      mfn = p2m.mfnOf(frame as GuestFrame);
      if (mfn < 0) return -1;
      const type = p2m.typeOf(frame as GuestFrame);
      const ram = type === P2mType.ram_rw || type === P2mType.ram_logdirty || (readonly && type === P2mType.ram_ro);
      if (!ram) return -1;
    }
    return this.memory.ownerOf(mfn as MachineFrame) === this.domid ? mfn : -1;
  }

  // --- inspection ----------------------------------------------------------------------------

  /** Entries whose type is not GTF_invalid, and pinned entries, for the dump. */
  *usedEntries(): Generator<number> {
    for (let ref = 0; ref < this.nrEntries; ref++) if ((this.flagsOf(ref) & GTF.type_mask) !== GTF.invalid || this.pinned(ref)) yield ref;
  }

  pinsOf(ref: number): { read: number; write: number } {
    return { read: this.readPins[ref] ?? 0, write: this.writePins[ref] ?? 0 };
  }
}

function grown<T extends Uint32Array | Float64Array | Uint16Array>(old: T, next: T): T {
  next.set(old as never);
  return next;
}

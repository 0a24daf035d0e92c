/** The qcow2 cluster map: the active L1 table in memory, L2 tables cached, entries decoded without allocating, updates written through. */
import { imageError, type ImageFile } from './file.js';
import type { Qcow2Header } from './qcow2-header.js';
import type { Corruption, Refcounts } from './qcow2-refcount.js';
import { TableCache, type Table } from './table-cache.js';

const TWO32 = 0x1_0000_0000;
/** Bit 63 of L1/L2 entries (in the high word): refcount is exactly one. */
const COPIED = 0x80000000;
/** Bit 62 of L2 entries: compressed cluster. */
const COMPRESSED = 0x40000000;
/** Bit 0 of a standard L2 entry (v3): reads as zeros. */
export const ZERO_FLAG = 1;
const OFFSET_HI = 0x00ffffff;
const OFFSET_LO = 0xfffffe00;
const L1_RESERVED_HI = 0x7f000000;
const L2_RESERVED_HI = 0x3f000000;
const L2_RESERVED_LO = 0x1fe;

/** What a guest cluster is. */
export const Kind = { Unallocated: 0, Zero: 1, Normal: 2, Compressed: 3 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/**
 * Decoded entry of the last `lookup`/`decode`: `host` for standard clusters (0 if none), `hi`/`lo`
 * the raw words. Fields, not a returned object, so the hot path allocates nothing.
 */
export class ClusterMap {
  host = 0;
  hi = 0;
  lo = 0;
  readonly clusterSize: number;
  /** Entries per L2 table. */
  readonly l2Entries: number;
  private readonly l1: Float64Array;
  private readonly l1Copied: Uint8Array;
  private readonly l2: TableCache;
  private readonly field = new Uint8Array(8);
  private readonly fieldView = new DataView(this.field.buffer);

  constructor(
    private readonly file: ImageFile,
    private readonly header: Qcow2Header,
    private readonly corrupt: Corruption,
    cachedTables: number,
  ) {
    this.clusterSize = header.clusterSize;
    this.l2Entries = header.clusterSize / 8;
    this.l2 = new TableCache(file, header.clusterSize, cachedTables, 'L2 table');
    [this.l1, this.l1Copied] = this.loadL1();
  }

  /** Classifies guest cluster `cluster` (an index) and leaves its entry in `host`/`hi`/`lo`. */
  lookup(cluster: number): Kind {
    const offset = this.l1[Math.floor(cluster / this.l2Entries)] ?? 0;
    if (offset === 0) {
      this.host = 0;
      this.hi = 0;
      this.lo = 0;
      return Kind.Unallocated;
    }
    return this.decode(this.l2.get(offset), cluster % this.l2Entries);
  }

  /** Whether the L2 table of guest cluster `cluster` exists. */
  hasL2(cluster: number): boolean {
    return (this.l1[Math.floor(cluster / this.l2Entries)] ?? 0) !== 0;
  }

  /** Decodes entry `index` of an L2 table into `host`/`hi`/`lo`. */
  decode(table: Table, index: number): Kind {
    const hi = table.view.getUint32(index * 8);
    const lo = table.view.getUint32(index * 8 + 4);
    this.hi = hi;
    this.lo = lo;
    if ((hi & COMPRESSED) !== 0) {
      this.host = 0;
      return Kind.Compressed;
    }
    const host = (hi & OFFSET_HI) * TWO32 + ((lo & OFFSET_LO) >>> 0);
    this.host = host;
    if ((hi & L2_RESERVED_HI) !== 0 || (lo & L2_RESERVED_LO) !== 0) throw this.corrupt(`L2 entry ${index} of the table at ${table.offset} has reserved bits set`);
    if (host % this.clusterSize !== 0 || host >= this.file.size) {
      throw this.corrupt(`L2 entry ${index} of the table at ${table.offset} points to ${host}, unaligned or past the end of the file`);
    }
    if ((lo & ZERO_FLAG) !== 0) {
      if (this.header.version === 2) throw this.corrupt(`L2 entry ${index} of the table at ${table.offset} has the zero flag in a version 2 image`);
      return Kind.Zero;
    }
    return host === 0 ? Kind.Unallocated : Kind.Normal;
  }

  /** Whether the entry last decoded has the COPIED bit (refcount exactly one). */
  get copied(): boolean {
    return (this.hi & COPIED) !== 0;
  }

  /** Host offset and length in bytes of the compressed data of the entry last decoded. */
  compressedRange(): [offset: number, length: number] {
    const hiBits = 70 - this.header.clusterBits - 32;
    const offset = (this.hi & ((1 << hiBits) - 1)) * TWO32 + this.lo;
    const sectors = ((this.hi >>> hiBits) & ((1 << (this.header.clusterBits - 8)) - 1)) + 1;
    return [offset, sectors * 512 - (offset % 512)];
  }

  /**
   * The L2 table of L1 entry `l1Index`, ours alone: created (zeros) when absent, copied when shared
   * with a snapshot. Each new table is written and counted before the L1 entry points to it.
   */
  writableL2(l1Index: number, refcounts: Refcounts): Table {
    const offset = this.l1[l1Index] ?? 0;
    if (offset !== 0 && this.l1Copied[l1Index] === 1) return this.l2.get(offset);
    if (offset !== 0 && refcounts.get(offset / this.clusterSize) === 1) {
      this.setL1(l1Index, offset);
      return this.l2.get(offset);
    }
    const bytes = new Uint8Array(this.clusterSize);
    if (offset !== 0) {
      // The clusters a shared table maps are shared too (refcount ≥ 2): none of them is COPIED.
      bytes.set(this.l2.get(offset).bytes);
      for (let i = 0; i < bytes.length; i += 8) bytes[i] = bytes[i]! & 0x7f;
    }
    const cluster = refcounts.allocate();
    const host = cluster * this.clusterSize;
    this.file.writeAt(bytes, 0, bytes.length, host);
    refcounts.adjust(cluster, +1);
    this.setL1(l1Index, host);
    const table = this.l2.put(host, bytes);
    if (offset !== 0) {
      this.l2.drop(offset);
      refcounts.adjust(offset / this.clusterSize, -1);
    }
    return table;
  }

  /** Points L2 entry `index` at `host` with COPIED set (a cluster we own), or stores `raw` (0 or {@link ZERO_FLAG}) when `host` is 0. */
  setL2(table: Table, index: number, host: number, raw = 0): void {
    const hi = host === 0 ? 0 : (COPIED | Math.floor(host / TWO32)) >>> 0;
    const lo = host === 0 ? raw : host % TWO32;
    table.view.setUint32(index * 8, hi);
    table.view.setUint32(index * 8 + 4, lo);
    this.file.writeAt(table.bytes, index * 8, 8, table.offset + index * 8);
  }

  clear(): void {
    this.l2.clear();
  }

  private setL1(index: number, host: number): void {
    this.fieldView.setUint32(0, (COPIED | Math.floor(host / TWO32)) >>> 0);
    this.fieldView.setUint32(4, host % TWO32);
    this.file.writeAt(this.field, 0, 8, this.header.l1Offset + index * 8);
    this.l1[index] = host;
    this.l1Copied[index] = 1;
  }

  private loadL1(): [Float64Array, Uint8Array] {
    const { l1Size, l1Offset } = this.header;
    const bytes = new Uint8Array(l1Size * 8);
    if (l1Size > 0) this.file.readFully(bytes, 0, bytes.length, l1Offset, 'L1 table');
    const view = new DataView(bytes.buffer);
    const offsets = new Float64Array(l1Size);
    const copied = new Uint8Array(l1Size);
    for (let i = 0; i < l1Size; i++) {
      const hi = view.getUint32(i * 8);
      const lo = view.getUint32(i * 8 + 4);
      const offset = (hi & OFFSET_HI) * TWO32 + ((lo & OFFSET_LO) >>> 0);
      if ((hi & L1_RESERVED_HI) !== 0 || (lo & 0x1ff) !== 0 || (offset !== 0 && (offset % this.clusterSize !== 0 || offset + this.clusterSize > this.file.size))) {
        throw imageError(this.file.path, 'EINVAL', `L1 entry ${i} (L2 table at ${offset}) is unaligned or points past the end of the file (${this.file.size} bytes)`);
      }
      offsets[i] = offset;
      copied[i] = (hi & COPIED) !== 0 ? 1 : 0;
    }
    return [offsets, copied];
  }
}

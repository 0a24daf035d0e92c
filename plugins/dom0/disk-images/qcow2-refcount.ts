/** qcow2 reference counts: the refcount table and blocks, cluster allocation, and growth of the table. All updates are written through. */
import type { GuestError } from '../../../core/api/index.js';
import { imageError, type ImageFile } from './file.js';
import { HEADER, MAX_REFCOUNT_TABLE_BYTES, type Qcow2Header } from './qcow2-header.js';
import { TableCache, type Table } from './table-cache.js';

const TWO32 = 0x1_0000_0000;
/** Host offsets are bits 9-55 of L1/L2/refcount table entries. */
const MAX_HOST_OFFSET = 2 ** 56;

/** Builds the error for corrupt metadata (the image marks itself corrupt); the caller throws it. */
export type Corruption = (detail: string) => GuestError;

/** Where the refcount structures are and what else the allocator must never hand out. */
export interface RefcountSetup {
  readonly header: Qcow2Header;
  /** Clusters that hold metadata outside the refcount structures (header, active L1 table). */
  readonly reserved: (cluster: number) => boolean;
  readonly corrupt: Corruption;
  /** How many refcount blocks to keep cached. */
  readonly cachedBlocks: number;
}

/**
 * The refcount of every host cluster. `allocate()` returns a free cluster (refcount 0, its refcount
 * block present) without taking it: the caller writes the cluster's contents, then `adjust(c, +1)`,
 * then links it, so that a crash at any point leaves at worst a leaked cluster.
 */
export class Refcounts {
  private table: Float64Array;
  private tableOffset: number;
  private tableClusters: number;
  private readonly blocks: TableCache;
  private readonly clusterSize: number;
  private readonly order: number;
  /** Refcount entries per refcount block. */
  private readonly perBlock: number;
  private readonly max: number;
  private freeHint = 0;
  private readonly field = new Uint8Array(12);

  constructor(
    private readonly file: ImageFile,
    private readonly setup: RefcountSetup,
  ) {
    const { header } = setup;
    this.clusterSize = header.clusterSize;
    this.order = header.refcountOrder;
    this.perBlock = (this.clusterSize * 8) >> this.order;
    this.max = this.order === 6 ? Number.MAX_SAFE_INTEGER : 2 ** (1 << this.order) - 1;
    this.tableOffset = header.refcountTableOffset;
    this.tableClusters = header.refcountTableClusters;
    this.blocks = new TableCache(file, this.clusterSize, setup.cachedBlocks, 'refcount block');
    this.table = this.loadTable();
  }

  /** The refcount of host cluster `cluster` (0 where no refcount block covers it). */
  get(cluster: number): number {
    const r = Math.floor(cluster / this.perBlock);
    const offset = this.table[r] ?? 0;
    if (offset === 0) return 0;
    return this.entry(this.blocks.get(offset), cluster - r * this.perBlock);
  }

  /** Adds `delta` to a cluster's refcount and writes the entry to the file at once. */
  adjust(cluster: number, delta: number): void {
    const r = Math.floor(cluster / this.perBlock);
    const offset = this.table[r] ?? 0;
    if (offset === 0) {
      if (delta < 0) throw this.setup.corrupt(`cluster ${cluster} is in use but no refcount block covers it`);
      throw this.setup.corrupt(`no refcount block for cluster ${cluster}`);
    }
    const block = this.blocks.get(offset);
    const index = cluster - r * this.perBlock;
    const value = this.entry(block, index) + delta;
    if (value < 0) throw this.setup.corrupt(`refcount of cluster ${cluster} would drop below zero`);
    if (value > this.max) throw imageError(this.file.path, 'EIO', `refcount of cluster ${cluster} would exceed ${this.max}`);
    this.setEntry(block.bytes, block.view, index, value);
    const bytes = this.order >= 3 ? (1 << this.order) / 8 : 1;
    const at = this.order >= 3 ? index * bytes : Math.floor(index / (8 >> this.order));
    this.file.writeAt(block.bytes, at, bytes, offset + at);
    if (value === 0 && cluster < this.freeHint) this.freeHint = cluster;
  }

  /** A free host cluster whose refcount block exists; creates refcount blocks and grows the table as needed. */
  allocate(): number {
    for (;;) {
      const cluster = this.findFree();
      if ((cluster + 1) * this.clusterSize > MAX_HOST_OFFSET) throw imageError(this.file.path, 'ENOSPC', 'qcow2 host offsets are exhausted (56 bits)');
      const r = Math.floor(cluster / this.perBlock);
      if (r >= this.table.length) {
        this.grow(r);
        continue;
      }
      if (this.table[r] === 0) {
        this.createBlock(r, cluster);
        continue;
      }
      if (this.isMetadata(cluster)) throw this.setup.corrupt(`cluster ${cluster} holds metadata but its refcount is 0`);
      this.freeHint = cluster + 1;
      return cluster;
    }
  }

  private findFree(): number {
    for (let k = this.freeHint; ; ) {
      const r = Math.floor(k / this.perBlock);
      const offset = this.table[r] ?? 0;
      if (offset === 0) return k;
      const block = this.blocks.get(offset);
      const base = r * this.perBlock;
      for (let i = k - base; i < this.perBlock; i++) if (this.entry(block, i) === 0) return base + i;
      k = base + this.perBlock;
    }
  }

  private isMetadata(cluster: number): boolean {
    const tableStart = this.tableOffset / this.clusterSize;
    return this.setup.reserved(cluster) || (cluster >= tableStart && cluster < tableStart + this.tableClusters);
  }

  /** A new refcount block for range `r`, stored in `cluster` (inside that range, so it counts itself). */
  private createBlock(r: number, cluster: number): void {
    const bytes = new Uint8Array(this.clusterSize);
    this.setEntry(bytes, new DataView(bytes.buffer), cluster - r * this.perBlock, 1);
    const offset = cluster * this.clusterSize;
    this.file.writeAt(bytes, 0, bytes.length, offset);
    this.table[r] = offset;
    this.encodeU64(offset, 0);
    this.file.writeAt(this.field, 0, 8, this.tableOffset + r * 8);
    this.blocks.put(offset, bytes);
    this.freeHint = cluster + 1;
  }

  /**
   * A larger refcount table, with the refcount blocks it needs, in an area at the end of the file;
   * the header switches to it in one write and the old table's clusters are freed.
   */
  private grow(needed: number): void {
    const cs = this.clusterSize;
    const per = this.perBlock;
    const old = this.table;
    const missing = (r: number) => (old[r] ?? 0) === 0;
    let start = Math.max(Math.ceil(this.file.size / cs), this.freeHint);
    let entries = Math.max(needed + 1, old.length * 2);
    let blocks = 0;
    let tableClusters = 0;
    for (;;) {
      tableClusters = Math.ceil((entries * 8) / cs);
      if (tableClusters * cs > MAX_REFCOUNT_TABLE_BYTES) {
        throw imageError(this.file.path, 'ENOSPC', `the refcount table would exceed ${MAX_REFCOUNT_TABLE_BYTES} bytes`);
      }
      // The new blocks must count themselves and the new table: iterate to a fixed point.
      for (let n = -1; n !== blocks; ) {
        if (n >= 0) blocks = n;
        n = 0;
        const end = start + blocks + tableClusters;
        for (let r = Math.floor(start / per); r <= Math.floor((end - 1) / per); r++) if (missing(r)) n++;
      }
      const end = start + blocks + tableClusters;
      let busy = -1;
      for (let k = start; k < end && busy < 0; k++) if (!missing(Math.floor(k / per)) && this.get(k) !== 0) busy = k;
      if (busy >= 0) {
        start = busy + 1;
        continue;
      }
      const lastBlock = Math.floor((end - 1) / per);
      entries = (tableClusters * cs) / 8;
      if (lastBlock < entries) break;
      entries = lastBlock + 1;
    }

    const table = new Float64Array(entries);
    table.set(old);
    const fresh = new Map<number, Uint8Array>();
    let next = start;
    const end = start + blocks + tableClusters;
    for (let r = Math.floor(start / per); r <= Math.floor((end - 1) / per); r++) {
      if (!missing(r)) continue;
      table[r] = next++ * cs;
      fresh.set(r, new Uint8Array(cs));
    }
    const tableStart = next;
    for (let k = start; k < end; k++) {
      const r = Math.floor(k / per);
      const bytes = fresh.get(r);
      if (bytes !== undefined) this.setEntry(bytes, new DataView(bytes.buffer), k - r * per, 1);
    }
    for (const [r, bytes] of fresh) this.file.writeAt(bytes, 0, cs, table[r]!);
    const encoded = new Uint8Array(tableClusters * cs);
    const view = new DataView(encoded.buffer);
    for (let r = 0; r < table.length; r++) {
      view.setUint32(r * 8, Math.floor(table[r]! / TWO32));
      view.setUint32(r * 8 + 4, table[r]! % TWO32);
    }
    this.file.writeAt(encoded, 0, encoded.length, tableStart * cs);
    for (let k = start; k < end; k++) if (!fresh.has(Math.floor(k / per))) this.adjust(k, +1);

    const oldOffset = this.tableOffset;
    const oldClusters = this.tableClusters;
    this.encodeU64(tableStart * cs, 0);
    new DataView(this.field.buffer).setUint32(8, tableClusters);
    this.file.writeAt(this.field, 0, 12, HEADER.refcountTableOffset);
    this.table = table;
    this.tableOffset = tableStart * cs;
    this.tableClusters = tableClusters;
    for (const [r, bytes] of fresh) this.blocks.put(table[r]!, bytes);
    for (let i = 0; i < oldClusters; i++) this.adjust(oldOffset / cs + i, -1);
  }

  private loadTable(): Float64Array {
    const cs = this.clusterSize;
    const bytes = new Uint8Array(this.tableClusters * cs);
    this.file.readFully(bytes, 0, bytes.length, this.tableOffset, 'refcount table');
    const view = new DataView(bytes.buffer);
    const table = new Float64Array(bytes.length / 8);
    for (let r = 0; r < table.length; r++) {
      const hi = view.getUint32(r * 8);
      const lo = view.getUint32(r * 8 + 4);
      const offset = hi * TWO32 + lo;
      if (offset % cs !== 0 || offset >= MAX_HOST_OFFSET || offset + cs > this.file.size) {
        throw imageError(this.file.path, 'EINVAL', `refcount table entry ${r} (offset ${offset}) is unaligned or lies past the end of the file`);
      }
      table[r] = offset;
    }
    return table;
  }

  private entry(block: Table, index: number): number {
    const { view, bytes } = block;
    switch (this.order) {
      case 4:
        return view.getUint16(index * 2);
      case 5:
        return view.getUint32(index * 4);
      case 6:
        return view.getUint32(index * 8) * TWO32 + view.getUint32(index * 8 + 4);
      case 3:
        return bytes[index]!;
      default: {
        // Sub-byte widths: entry 0 is in the least significant bits of byte 0.
        const bits = 1 << this.order;
        const perByte = 8 >> this.order;
        return (bytes[Math.floor(index / perByte)]! >>> ((index % perByte) * bits)) & ((1 << bits) - 1);
      }
    }
  }

  private setEntry(bytes: Uint8Array, view: DataView, index: number, value: number): void {
    switch (this.order) {
      case 4:
        return view.setUint16(index * 2, value);
      case 5:
        return view.setUint32(index * 4, value);
      case 6:
        view.setUint32(index * 8, Math.floor(value / TWO32));
        return view.setUint32(index * 8 + 4, value % TWO32);
      case 3:
        bytes[index] = value;
        return;
      default: {
        const bits = 1 << this.order;
        const perByte = 8 >> this.order;
        const at = Math.floor(index / perByte);
        const shift = (index % perByte) * bits;
        const mask = ((1 << bits) - 1) << shift;
        bytes[at] = (bytes[at]! & ~mask) | ((value << shift) & mask);
      }
    }
  }

  private encodeU64(value: number, at: number): void {
    const view = new DataView(this.field.buffer);
    view.setUint32(at, Math.floor(value / TWO32));
    view.setUint32(at + 4, value % TWO32);
  }
}

/** A bounded cache of cluster-sized qcow2 metadata tables (L2 tables, refcount blocks), least recently used out first. */
import type { ImageFile } from './file.js';

/** One cached table: its bytes and a big-endian view of them. Writers update it and the file together. */
export interface Table {
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  used: number;
}

/**
 * Tables keyed by their offset in the file. Nothing here is ever dirty: callers write through, so
 * eviction only forgets. A hit costs one Map lookup and allocates nothing.
 */
export class TableCache {
  private readonly tables = new Map<number, Table>();
  private clock = 0;

  constructor(
    private readonly file: ImageFile,
    private readonly clusterSize: number,
    private readonly capacity: number,
    private readonly what: string,
  ) {}

  /** The table at `offset`, read from the file on a miss. */
  get(offset: number): Table {
    const hit = this.tables.get(offset);
    if (hit !== undefined) {
      hit.used = ++this.clock;
      return hit;
    }
    const bytes = new Uint8Array(this.clusterSize);
    this.file.readFully(bytes, 0, bytes.length, offset, this.what);
    return this.insert(offset, bytes);
  }

  /** Caches a table the caller has just written to the file. */
  put(offset: number, bytes: Uint8Array): Table {
    this.tables.delete(offset);
    return this.insert(offset, bytes);
  }

  /** Forgets the table at `offset` (its cluster was freed or is no longer active). */
  drop(offset: number): void {
    this.tables.delete(offset);
  }

  clear(): void {
    this.tables.clear();
  }

  private insert(offset: number, bytes: Uint8Array): Table {
    if (this.tables.size >= this.capacity) this.evict();
    const table: Table = { offset, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), used: ++this.clock };
    this.tables.set(offset, table);
    return table;
  }

  private evict(): void {
    let oldest: Table | undefined;
    for (const table of this.tables.values()) if (oldest === undefined || table.used < oldest.used) oldest = table;
    if (oldest !== undefined) this.tables.delete(oldest.offset);
  }
}

/** How many cluster-sized tables fit in `bytes`, clamped to `min..max`. */
export function tablesIn(bytes: number, clusterSize: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(bytes / clusterSize)));
}

/**
 * A sparse index from guest frame number to a packed value (≥ 0), in chunks of 512 slots: setting and
 * clearing one entry never grows or shrinks a hash table, which is what grant map/unmap churn needs.
 */

const CHUNK = 512;
const EMPTY = -1;
/** Entries a sparse chunk holds before it becomes dense. */
const SPARSE_SLOTS = 8;

/**
 * A chunk is dense (`length === CHUNK`: slot i holds gfn `key·512 + i`) or sparse (`SPARSE_SLOTS`
 * pairs of offset and value, offset −1 when free). Most 2 MiB regions a 4 KiB entry lands in hold a
 * handful of special pages (rings, grant frames, the shared-info page), so a region starts sparse —
 * 128 bytes instead of 4 KiB per idle domain — and turns dense on its ninth entry, for good.
 */
type Chunk = Float64Array;

export class GfnIndex {
  private readonly chunks = new Map<number, Chunk>();
  private lastKey = -1;
  private lastChunk: Chunk | undefined;
  private entries = 0;

  /** Entries held. */
  get size(): number {
    return this.entries;
  }

  /** The value at `gfn`, or −1 when there is none. */
  get(gfn: number): number {
    const chunk = this.chunk(Math.floor(gfn / CHUNK));
    if (chunk === undefined) return EMPTY;
    const i = gfn % CHUNK;
    if (chunk.length === CHUNK) return chunk[i]!;
    const at = sparseSlot(chunk, i);
    return at < 0 ? EMPTY : chunk[at + 1]!;
  }

  has(gfn: number): boolean {
    return this.get(gfn) !== EMPTY;
  }

  /** Sets the value at `gfn` (`value` ≥ 0). */
  set(gfn: number, value: number): void {
    const key = Math.floor(gfn / CHUNK);
    let chunk = this.chunk(key);
    if (chunk === undefined) {
      chunk = new Float64Array(2 * SPARSE_SLOTS).fill(EMPTY);
      this.remember(key, chunk);
    }
    const i = gfn % CHUNK;
    if (chunk.length !== CHUNK) {
      let at = sparseSlot(chunk, i);
      if (at < 0) at = sparseSlot(chunk, EMPTY);
      if (at >= 0) {
        if (chunk[at] === EMPTY) this.entries++;
        chunk[at] = i;
        chunk[at + 1] = value;
        return;
      }
      chunk = this.densify(key, chunk);
    }
    if (chunk[i] === EMPTY) this.entries++;
    chunk[i] = value;
  }

  /** Removes the entry at `gfn`; true when there was one. Chunks stay allocated (a cleared slot is cheap to refill). */
  delete(gfn: number): boolean {
    const chunk = this.chunk(Math.floor(gfn / CHUNK));
    if (chunk === undefined) return false;
    const i = gfn % CHUNK;
    const at = chunk.length === CHUNK ? (chunk[i] === EMPTY ? -1 : i) : sparseSlot(chunk, i);
    if (at < 0) return false;
    chunk[at] = EMPTY;
    this.entries--;
    return true;
  }

  clear(): void {
    this.chunks.clear();
    this.lastKey = -1;
    this.lastChunk = undefined;
    this.entries = 0;
  }

  /** Every (gfn, value), in increasing gfn order. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (const key of [...this.chunks.keys()].sort((a, b) => a - b)) {
      const chunk = this.chunks.get(key)!;
      if (chunk.length === CHUNK) {
        for (let i = 0; i < CHUNK; i++) if (chunk[i] !== EMPTY) yield [key * CHUNK + i, chunk[i]!];
        continue;
      }
      const pairs: [number, number][] = [];
      for (let at = 0; at < chunk.length; at += 2) if (chunk[at] !== EMPTY) pairs.push([key * CHUNK + chunk[at]!, chunk[at + 1]!]);
      yield* pairs.sort((a, b) => a[0] - b[0]);
    }
  }

  private chunk(key: number): Chunk | undefined {
    if (key === this.lastKey) return this.lastChunk;
    const chunk = this.chunks.get(key);
    if (chunk !== undefined) {
      this.lastKey = key;
      this.lastChunk = chunk;
    }
    return chunk;
  }

  private remember(key: number, chunk: Chunk): void {
    this.chunks.set(key, chunk);
    this.lastKey = key;
    this.lastChunk = chunk;
  }

  /** Replaces a full sparse chunk by a dense one holding the same entries. */
  private densify(key: number, sparse: Chunk): Chunk {
    const dense = new Float64Array(CHUNK).fill(EMPTY);
    for (let at = 0; at < sparse.length; at += 2) if (sparse[at] !== EMPTY) dense[sparse[at]!] = sparse[at + 1]!;
    this.remember(key, dense);
    return dense;
  }
}

/** The index of the pair whose offset is `offset` in a sparse chunk, or −1. */
function sparseSlot(chunk: Chunk, offset: number): number {
  for (let at = 0; at < chunk.length; at += 2) if (chunk[at] === offset) return at;
  return -1;
}

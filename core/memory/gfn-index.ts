/**
 * A sparse index from guest frame number to a packed value (≥ 0), in chunks of 512 slots: setting and
 * clearing one entry never grows or shrinks a hash table, which is what grant map/unmap churn needs.
 */

const CHUNK = 512;
const EMPTY = -1;

export class GfnIndex {
  private readonly chunks = new Map<number, Float64Array>();
  private lastKey = -1;
  private lastChunk: Float64Array | undefined;
  private entries = 0;

  /** Entries held. */
  get size(): number {
    return this.entries;
  }

  /** The value at `gfn`, or −1 when there is none. */
  get(gfn: number): number {
    const chunk = this.chunk(Math.floor(gfn / CHUNK));
    return chunk === undefined ? EMPTY : chunk[gfn % CHUNK]!;
  }

  has(gfn: number): boolean {
    return this.get(gfn) !== EMPTY;
  }

  /** Sets the value at `gfn` (`value` ≥ 0). */
  set(gfn: number, value: number): void {
    const key = Math.floor(gfn / CHUNK);
    let chunk = this.chunk(key);
    if (chunk === undefined) {
      chunk = new Float64Array(CHUNK).fill(EMPTY);
      this.chunks.set(key, chunk);
      this.lastKey = key;
      this.lastChunk = chunk;
    }
    const i = gfn % CHUNK;
    if (chunk[i] === EMPTY) this.entries++;
    chunk[i] = value;
  }

  /** Removes the entry at `gfn`; true when there was one. Chunks stay allocated (a cleared slot is cheap to refill). */
  delete(gfn: number): boolean {
    const chunk = this.chunk(Math.floor(gfn / CHUNK));
    if (chunk === undefined) return false;
    const i = gfn % CHUNK;
    if (chunk[i] === EMPTY) return false;
    chunk[i] = EMPTY;
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
      for (let i = 0; i < CHUNK; i++) if (chunk[i] !== EMPTY) yield [key * CHUNK + i, chunk[i]!];
    }
  }

  private chunk(key: number): Float64Array | undefined {
    if (key === this.lastKey) return this.lastChunk;
    const chunk = this.chunks.get(key);
    if (chunk !== undefined) {
      this.lastKey = key;
      this.lastChunk = chunk;
    }
    return chunk;
  }
}

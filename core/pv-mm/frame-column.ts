/**
 * A number per machine frame, stored in 512-frame typed-array chunks made on first write: the shape of
 * Xen's frame_table (a fixed record per frame) without paying for frames no PV domain uses. A PV
 * guest maps and types every frame it has; a Map entry and object per frame cost ten times the bytes
 * and keep the collector busy once a thousand guests are running.
 */
const CHUNK_SHIFT = 9;
const CHUNK = 1 << CHUNK_SHIFT;

type Column = Int32Array | Float64Array;

export class FrameColumn<C extends Column> {
  private readonly chunks = new Map<number, C>();
  private lastKey = -1;
  private last: C | undefined;

  /**
   * @param make a chunk of 512 cells, each holding `empty`
   * @param empty what a frame never written reads as
   */
  constructor(
    private readonly make: () => C,
    readonly empty: number,
  ) {}

  get(mfn: number): number {
    const chunk = this.chunk(Math.floor(mfn / CHUNK));
    return chunk === undefined ? this.empty : chunk[mfn % CHUNK]!;
  }

  set(mfn: number, value: number): void {
    const key = Math.floor(mfn / CHUNK);
    let chunk = this.chunk(key);
    if (chunk === undefined) {
      if (value === this.empty || Number.isNaN(value)) return;
      chunk = this.make();
      this.chunks.set(key, chunk);
      this.lastKey = key;
      this.last = chunk;
    }
    chunk[mfn % CHUNK] = value;
  }

  /** Every (frame, value) that is not `empty`, in frame order within each chunk. */
  *entries(): Generator<[number, number]> {
    for (const [key, chunk] of this.chunks) {
      for (let i = 0; i < CHUNK; i++) {
        const v = chunk[i]!;
        if (v !== this.empty && !Number.isNaN(v)) yield [key * CHUNK + i, v];
      }
    }
  }

  private chunk(key: number): C | undefined {
    if (key === this.lastKey) return this.last;
    const chunk = this.chunks.get(key);
    if (chunk !== undefined) {
      this.lastKey = key;
      this.last = chunk;
    }
    return chunk;
  }
}

/** An Int32 column whose empty cells read 0. */
export function int32Column(): FrameColumn<Int32Array> {
  return new FrameColumn(() => new Int32Array(CHUNK), 0);
}

/** A Float64 column whose empty cells read NaN (any number may be stored). */
export function float64Column(): FrameColumn<Float64Array> {
  return new FrameColumn(() => new Float64Array(CHUNK).fill(NaN), NaN);
}

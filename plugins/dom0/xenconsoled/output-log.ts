/** A domain's console log: its last `limit` bytes of output, kept as chunks. */

export class OutputLog {
  private chunks: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  /** Bytes held (at most the limit). */
  get length(): number {
    return this.size;
  }

  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes.length > this.limit ? bytes.slice(bytes.length - this.limit) : bytes);
    this.size += Math.min(bytes.length, this.limit);
    while (this.size > this.limit) {
      const head = this.chunks[0]!;
      const excess = this.size - this.limit;
      if (head.length <= excess) {
        this.chunks.shift();
        this.size -= head.length;
      } else {
        this.chunks[0] = head.subarray(excess);
        this.size -= excess;
      }
    }
  }

  /** The bytes held, oldest first. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    if (this.chunks.length > 1) this.chunks = [out];
    return out;
  }

  /** The log as UTF-8 text, without a character cut in two where the oldest bytes were dropped or at the end. */
  text(): string {
    const bytes = this.bytes();
    let start = 0;
    while (start < bytes.length && start < 3 && (bytes[start]! & 0xc0) === 0x80) start++;
    return new TextDecoder('utf-8').decode(bytes.subarray(start), { stream: true });
  }
}

/** Decodes a byte stream as UTF-8 across chunk boundaries. */
export function streamDecoder(): (bytes: Uint8Array) => string {
  const d = new TextDecoder('utf-8');
  return (bytes) => d.decode(bytes, { stream: true });
}

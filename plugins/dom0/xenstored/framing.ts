/** A transport-side check of the message framing: finds each header in a byte stream and refuses oversized payloads. */
import { XS_HEADER_SIZE, XS_PAYLOAD_MAX } from './connection.js';

/** Where a header's little-endian u32 `len` starts. */
const LEN_OFFSET = 12;

/**
 * Follows message boundaries in a peer's byte stream (any split) and reports the first header whose
 * `len` exceeds {@link XS_PAYLOAD_MAX}, so the transport can cut the peer off before buffering it
 * (C xenstored's read_message: "bad_client"). The engine still parses the messages itself.
 */
export class FrameGuard {
  private headerHave = 0;
  /** The `len` field of the header being read, assembled byte by byte (no per-peer header buffer). */
  private len = 0;
  private payloadLeft = 0;

  /** Feeds `bytes`; returns a reason string at the first oversized header, else undefined. */
  check(bytes: Uint8Array): string | undefined {
    let i = 0;
    while (i < bytes.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, bytes.length - i);
        this.payloadLeft -= n;
        i += n;
        continue;
      }
      const n = Math.min(XS_HEADER_SIZE - this.headerHave, bytes.length - i);
      for (let k = 0; k < n; k++) {
        const at = this.headerHave + k;
        if (at >= LEN_OFFSET) this.len += bytes[i + k]! * 2 ** (8 * (at - LEN_OFFSET));
      }
      this.headerHave += n;
      i += n;
      if (this.headerHave < XS_HEADER_SIZE) break;
      const len = this.len;
      this.headerHave = 0;
      this.len = 0;
      if (len > XS_PAYLOAD_MAX) return `payload of ${len} bytes exceeds ${XS_PAYLOAD_MAX}`;
      this.payloadLeft = len;
    }
    return undefined;
  }

  /** True between messages (nothing of the next one seen yet). */
  get atBoundary(): boolean {
    return this.headerHave === 0 && this.payloadLeft === 0;
  }

  /** Bytes still missing from the current message's header, or of its payload once the header is complete. */
  get remaining(): number {
    return this.payloadLeft > 0 ? this.payloadLeft : XS_HEADER_SIZE - this.headerHave;
  }

  /** Forgets any partial message (a ring reconnection). */
  reset(): void {
    this.headerHave = 0;
    this.len = 0;
    this.payloadLeft = 0;
  }
}

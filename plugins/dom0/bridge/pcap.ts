/** A classic libpcap capture file (LINKTYPE_ETHERNET), written through a memory buffer flushed in large writes. */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

const PCAP_MAGIC = 0xa1b2c3d4;
const PCAP_VERSION_MAJOR = 2;
const PCAP_VERSION_MINOR = 4;
const LINKTYPE_ETHERNET = 1;
const GLOBAL_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
/** The buffer is written out once it holds this much. */
export const PCAP_FLUSH_BYTES = 256 * 1024;

/** Appends frames to a pcap file, timestamped in virtual time. Not safe after {@link close}. */
export class PcapWriter {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private used = 0;
  private fd: number | undefined;

  /** Creates (truncates) `path`, making its folder, and writes the file header. Throws the fs error. */
  constructor(
    readonly path: string,
    readonly snaplen = 65_535,
  ) {
    this.buf = new Uint8Array(PCAP_FLUSH_BYTES + RECORD_HEADER_LEN + snaplen);
    this.view = new DataView(this.buf.buffer);
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
    const v = this.view;
    v.setUint32(0, PCAP_MAGIC, true);
    v.setUint16(4, PCAP_VERSION_MAJOR, true);
    v.setUint16(6, PCAP_VERSION_MINOR, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, snaplen, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.used = GLOBAL_HEADER_LEN;
    this.flush();
  }

  /** Bytes buffered, not yet in the file. */
  get buffered(): number {
    return this.used;
  }

  /** Appends one frame captured at virtual time `timeNs` (cut to the snap length). */
  write(frame: Uint8Array, timeNs: number): void {
    const incl = frame.length < this.snaplen ? frame.length : this.snaplen;
    if (this.used + RECORD_HEADER_LEN + incl > this.buf.length) this.flush();
    const sec = Math.floor(timeNs / 1e9);
    const v = this.view;
    const at = this.used;
    v.setUint32(at, sec, true);
    v.setUint32(at + 4, Math.floor((timeNs - sec * 1e9) / 1e3), true);
    v.setUint32(at + 8, incl, true);
    v.setUint32(at + 12, frame.length, true);
    this.buf.set(incl === frame.length ? frame : frame.subarray(0, incl), at + RECORD_HEADER_LEN);
    this.used = at + RECORD_HEADER_LEN + incl;
    if (this.used >= PCAP_FLUSH_BYTES) this.flush();
  }

  /** Writes what is buffered to the file. Throws the fs error (the buffer is then discarded). */
  flush(): void {
    if (this.fd === undefined || this.used === 0) return;
    const length = this.used;
    this.used = 0;
    for (let off = 0; off < length; ) off += writeSync(this.fd, this.buf, off, length - off);
  }

  /** Flushes and closes the file (idempotent). */
  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** xenstore wire format (io/xs_wire.h): message types, error names, limits and the 16-byte header codec. */

/** `enum xsd_sockmsg_type` as of Xen 4.17 (XS_TYPE_COUNT = 23; 20 was RESTRICT, now invalid). */
export const XsType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
} as const;
export type XsType = (typeof XsType)[keyof typeof XsType];

/** Type number → name, for logs (`**UNKNOWN**` otherwise, as C xenstored prints). */
export function xsTypeName(type: number): string {
  for (const [name, value] of Object.entries(XsType)) if (value === type) return name;
  return '**UNKNOWN**';
}

/** `xsd_errors[]` names; the engine replies with one of these as `<NAME>\0`. */
export type XsErrorName =
  | 'EINVAL' | 'EACCES' | 'EEXIST' | 'EISDIR' | 'ENOENT' | 'ENOMEM' | 'ENOSPC' | 'EIO'
  | 'ENOTEMPTY' | 'ENOSYS' | 'EROFS' | 'EBUSY' | 'EAGAIN' | 'EISCONN' | 'E2BIG' | 'EPERM';

/** All error names in `xsd_errors[]` order. */
export const XS_ERRORS: readonly XsErrorName[] = [
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
  'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
];

/** A failed operation: handlers throw it and the dispatcher turns it into an ERROR reply. */
export class XsError extends Error {
  constructor(readonly errno: XsErrorName, detail?: string) {
    super(detail ? `${errno}: ${detail}` : errno);
    this.name = 'XsError';
  }
}

/** Size of `struct xsd_sockmsg`. */
export const XS_HEADER_SIZE = 16;
/** XENSTORE_PAYLOAD_MAX: largest payload either way. */
export const XENSTORE_PAYLOAD_MAX = 4096;
/** XENSTORE_ABS_PATH_MAX. */
export const XENSTORE_ABS_PATH_MAX = 3072;
/** XENSTORE_REL_PATH_MAX. */
export const XENSTORE_REL_PATH_MAX = 2048;

/** A decoded header (all fields u32, little-endian on the wire). */
export interface XsHeader {
  type: number;
  reqId: number;
  txId: number;
  len: number;
}

/** Reads the little-endian u32 at `off` (the caller ensures 4 bytes are there). */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Writes `v` as a little-endian u32 at `off`. */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** Decodes the header at `off`. */
export function decodeHeader(b: Uint8Array, off = 0): XsHeader {
  return { type: readU32(b, off), reqId: readU32(b, off + 4), txId: readU32(b, off + 8), len: readU32(b, off + 12) };
}

/** Builds one whole message: header + payload (`string` payloads are latin1, one byte per char). */
export function encodeMessage(type: number, reqId: number, txId: number, payload: Uint8Array | string): Uint8Array {
  const len = payload.length;
  const out = new Uint8Array(XS_HEADER_SIZE + len);
  writeU32(out, 0, type);
  writeU32(out, 4, reqId);
  writeU32(out, 8, txId);
  writeU32(out, 12, len);
  if (typeof payload === 'string') {
    putLatin1(out, XS_HEADER_SIZE, payload);
  } else {
    out.set(payload, XS_HEADER_SIZE);
  }
  return out;
}

/**
 * Node's native latin1 decoder. Undocumented but present since Node 0.x; it accepts any Uint8Array, so
 * no Buffer wrapper is made per string (TextDecoder('latin1') is really windows-1252, so not that).
 */
const nativeLatin1: (this: Uint8Array, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice ??
  function (this: Uint8Array, start: number, end: number): string {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('latin1', start, end);
  };

/** Decodes bytes [start, end) one byte per char (paths and tokens round-trip exactly). */
export function latin1(b: Uint8Array, start: number, end: number): string {
  // For a few chars a JS loop beats the native call's fixed cost (and V8 keeps such short strings flat).
  if (end - start <= 12) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  return nativeLatin1.call(b, start, end);
}

/** Encodes `s` one byte per char (low 8 bits) into `out` at `off`; returns the offset after it. */
export function putLatin1(out: Uint8Array, off: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) out[off + i] = s.charCodeAt(i) & 0xff;
  return off + n;
}

/**
 * Splits a payload into its NUL-terminated strings, as C's get_strings does: a final unterminated
 * run counts as a string too. Returns the strings and whether the payload ended in NUL.
 */
export function splitStrings(p: Uint8Array): { strings: string[]; terminated: boolean } {
  const strings: string[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) {
      strings.push(latin1(p, start, i));
      start = i + 1;
    }
  }
  const terminated = start === p.length;
  if (!terminated) strings.push(latin1(p, start, p.length));
  return { strings, terminated };
}

/** C's `onearg`: the payload must be exactly one NUL-terminated string; otherwise null (EINVAL). */
export function oneArg(p: Uint8Array): string | null {
  // The first NUL must be the last byte (one native scan).
  const n = p.length;
  if (n === 0 || p.indexOf(0) !== n - 1) return null;
  return latin1(p, 0, n - 1);
}

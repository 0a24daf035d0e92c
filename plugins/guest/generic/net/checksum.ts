/** The Internet checksum (RFC 1071) and the pseudo-header sums of IPv4 and IPv6 (RFC 768, RFC 8200 §8.1). */

/**
 * The sum of `length` bytes at `offset` of `view` as big-endian 16-bit words (an odd last byte is padded
 * with zero), plus `initial`, for {@link fold}: equal to the plain sum modulo 0xffff, and 0 only when it is
 * (so it stays exact, below 2^53, for any packet size, and sums of parts add up).
 */
export function sum16(view: DataView, offset: number, length: number, initial = 0): number {
  const at = view.byteOffset + offset;
  if (LITTLE_ENDIAN && length >= NATIVE_MIN && (at & 1) === 0) return initial + nativeSum(view.buffer, at, length);
  let sum = initial;
  let i = offset;
  const end = offset + length;
  for (; i + 3 < end; i += 4) sum += view.getUint32(i);
  if (i + 1 < end) {
    sum += view.getUint16(i);
    i += 2;
  }
  if (i < end) sum += view.getUint8(i) << 8;
  return sum;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Below this many bytes the DataView loop is as quick as setting up the word views. */
const NATIVE_MIN = 64;
let wordsOf: ArrayBufferLike | undefined;
let bytes8: Uint8Array = new Uint8Array(0);
let words16: Uint16Array = new Uint16Array(0);
let words32: Uint32Array = new Uint32Array(0);

/**
 * {@link sum16} of an even-aligned run through native (little-endian) word reads, 4 bytes at a time. A
 * byte-swapped word is the word times 256 modulo 0xffff (RFC 1071's byte-order independence), so the
 * sum of the swapped words, reduced and times 256, is the big-endian sum modulo 0xffff.
 */
function nativeSum(buffer: ArrayBufferLike, at: number, length: number): number {
  if (buffer !== wordsOf) {
    wordsOf = buffer;
    bytes8 = new Uint8Array(buffer);
    words16 = new Uint16Array(buffer, 0, buffer.byteLength >> 1);
    words32 = new Uint32Array(buffer, 0, buffer.byteLength >> 2);
  }
  const w16 = words16;
  const w32 = words32;
  const end = at + length;
  let i = at;
  let sum = 0;
  if ((i & 2) !== 0) {
    sum += w16[i >> 1]!;
    i += 2;
  }
  // A 32-bit word is its high half times 65536 (≡ 1 modulo 0xffff) plus its low half. Four sums, so the adds overlap.
  let j = i >> 2;
  const words = j + ((end - i) >> 2);
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  for (; j + 3 < words; j += 4) {
    a += w32[j]!;
    b += w32[j + 1]!;
    c += w32[j + 2]!;
    d += w32[j + 3]!;
  }
  for (; j < words; j++) a += w32[j]!;
  sum += a + b + c + d;
  i = j << 2;
  if (i + 1 < end) {
    sum += w16[i >> 1]!;
    i += 2;
  }
  let r = sum % 0xffff;
  if (r === 0 && sum !== 0) r = 0xffff;
  return r * 256 + (i < end ? bytes8[i]! << 8 : 0);
}

/** Folds a sum into 16 bits with end-around carry (0 only when the sum is 0). */
export function fold(sum: number): number {
  if (sum === 0) return 0;
  const r = sum % 0xffff;
  return r === 0 ? 0xffff : r;
}

/** The checksum to store: the one's complement of the folded sum. */
export function checksumOf(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** True when a sum taken over data that includes its stored checksum verifies. */
export function verifies(sum: number): boolean {
  return fold(sum) === 0xffff;
}

/** The IPv4 pseudo-header's sum: source, destination, protocol and upper-layer length. */
export function pseudoSum4(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** The IPv6 pseudo-header's sum: source, destination (16 bytes each), upper-layer length and next header. */
export function pseudoSum6(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): number {
  let sum = nextHeader + (length >>> 16) + (length & 0xffff);
  for (let i = 0; i < 16; i += 2) sum += ((src[i]! << 8) | src[i + 1]!) + ((dst[i]! << 8) | dst[i + 1]!);
  return sum;
}

let lastBuffer: ArrayBufferLike | undefined;
let lastView: DataView | undefined;

/** {@link sum16} over `length` bytes at `offset` of `bytes` (a packet's layers share one cached view of their buffer). */
export function sumOf(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  if (bytes.buffer !== lastBuffer || lastView === undefined) {
    lastBuffer = bytes.buffer;
    lastView = new DataView(bytes.buffer);
  }
  return sum16(lastView, bytes.byteOffset + offset, length, initial);
}

/** The big-endian 16-bit word at `offset`. */
export function be16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** The big-endian 32-bit word at `offset`, unsigned. */
export function be32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** A DataView over exactly the bytes of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

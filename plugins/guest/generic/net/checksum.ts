/** The Internet checksum (RFC 1071) and the pseudo-header sums of IPv4 and IPv6 (RFC 768, RFC 8200 §8.1). */

/**
 * The unfolded sum of `length` bytes at `offset` of `view` as big-endian 16-bit words (an odd last byte is
 * padded with zero), plus `initial`. Stays exact for any packet size (the result is below 2^53).
 */
export function sum16(view: DataView, offset: number, length: number, initial = 0): number {
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

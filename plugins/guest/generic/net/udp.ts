/** UDP (RFC 768) over IPv4 and IPv6: the 8-byte header and its pseudo-header checksum. */
import { be16, checksumOf, sum16, sumOf, verifies, viewOf } from './checksum.js';

export const UDP_HDR_LEN = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  /** The payload: a view, cut to the header's length. */
  data: Uint8Array;
  /** False for an IPv4 datagram sent without a checksum (0). */
  checksummed: boolean;
}

/** Why a datagram was refused: the udp counter it bumps (FreeBSD's udps_* names). */
export type UdpError = 'hdrops' | 'badlen' | 'badsum' | 'nosum';

/**
 * Writes the header of a datagram whose `dataLength` payload bytes already sit after it, with the
 * checksum over the pseudo-header (`pseudoBase`: its sum without the length) and the datagram; a computed
 * 0 goes out as 0xffff.
 */
export function writeUdpHeader(view: DataView, offset: number, srcPort: number, dstPort: number, dataLength: number, pseudoBase: number): void {
  const length = UDP_HDR_LEN + dataLength;
  view.setUint16(offset, srcPort);
  view.setUint16(offset + 2, dstPort);
  view.setUint16(offset + 4, length);
  view.setUint16(offset + 6, 0);
  view.setUint16(offset + 6, checksumOf(sum16(view, offset, length, pseudoBase + length)) || 0xffff);
}

/**
 * Parses and checks a datagram. `zeroSumAllowed`: IPv4 accepts checksum 0 (none); IPv6 refuses it
 * ('nosum'). Bytes past the header's length (padding) are ignored.
 */
export function parseUdp(bytes: Uint8Array, pseudoBase: number, zeroSumAllowed: boolean, verify = true): UdpDatagram | UdpError {
  if (bytes.length < UDP_HDR_LEN) return 'hdrops';
  const length = be16(bytes, 4);
  if (length < UDP_HDR_LEN || length > bytes.length) return 'badlen';
  const stored = be16(bytes, 6);
  if (stored === 0) {
    if (!zeroSumAllowed) return 'nosum';
  } else if (verify && !verifies(sumOf(bytes, 0, length, pseudoBase + length))) return 'badsum';
  return { srcPort: be16(bytes, 0), dstPort: be16(bytes, 2), data: bytes.subarray(UDP_HDR_LEN, length), checksummed: stored !== 0 };
}

/** A whole datagram: header then a copy of `data`. */
export function buildUdp(srcPort: number, dstPort: number, data: Uint8Array, pseudoBase: number): Uint8Array {
  const bytes = new Uint8Array(UDP_HDR_LEN + data.length);
  bytes.set(data, UDP_HDR_LEN);
  writeUdpHeader(viewOf(bytes), 0, srcPort, dstPort, data.length, pseudoBase);
  return bytes;
}

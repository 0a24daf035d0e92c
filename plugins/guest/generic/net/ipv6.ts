/** IPv6 (RFC 8200): the fixed 40-byte header. Extension headers are not followed (their packets count as noproto). */
import { be16, be32, viewOf } from './checksum.js';

export const IPV6_HDR_LEN = 40;
export const IPPROTO_ICMPV6 = 58;
/** FreeBSD's net.inet6.ip6.hlim. */
export const IPV6_DEFHLIM = 64;

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/** A parsed packet; addresses and payload are views into the packet, the payload cut to the payload length. */
export interface Ipv6Packet extends Ipv6Header {
  payload: Uint8Array;
}

/** Why a packet was refused: the ip6 counter it bumps. */
export type Ipv6Error = 'tooshort' | 'badvers';

/** Writes the header for a payload of `payloadLength` bytes at `offset` of `bytes`. */
export function writeIpv6Header(bytes: Uint8Array, view: DataView, offset: number, h: Ipv6Header, payloadLength: number): void {
  view.setUint32(offset, ((6 << 28) | ((h.trafficClass & 0xff) << 20) | (h.flowLabel & 0xfffff)) >>> 0);
  view.setUint16(offset + 4, payloadLength);
  view.setUint8(offset + 6, h.nextHeader);
  view.setUint8(offset + 7, h.hopLimit);
  bytes.set(h.src.subarray(0, 16), offset + 8);
  bytes.set(h.dst.subarray(0, 16), offset + 24);
}

/** Parses the fixed header; a payload length beyond the bytes is 'tooshort' (padding after it is dropped). */
export function parseIpv6(bytes: Uint8Array): Ipv6Packet | Ipv6Error {
  if (bytes.length < IPV6_HDR_LEN) return 'tooshort';
  const word = be32(bytes, 0);
  if (word >>> 28 !== 6) return 'badvers';
  const length = be16(bytes, 4);
  if (IPV6_HDR_LEN + length > bytes.length) return 'tooshort';
  return {
    trafficClass: (word >>> 20) & 0xff,
    flowLabel: word & 0xfffff,
    nextHeader: bytes[6]!,
    hopLimit: bytes[7]!,
    src: bytes.subarray(8, 24),
    dst: bytes.subarray(24, 40),
    payload: bytes.subarray(IPV6_HDR_LEN, IPV6_HDR_LEN + length),
  };
}

/** A whole packet: header then a copy of `payload`. */
export function buildIpv6(h: Ipv6Header, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(IPV6_HDR_LEN + payload.length);
  writeIpv6Header(bytes, viewOf(bytes), 0, h, payload.length);
  bytes.set(payload, IPV6_HDR_LEN);
  return bytes;
}

/** IPv4 (RFC 791): the header without options on output; options skipped and fragments refused on input. */
import { be16, be32, checksumOf, sum16, sumOf, verifies, viewOf } from './checksum.js';

export const IPV4_HDR_LEN = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
/** FreeBSD's net.inet.ip.ttl. */
export const IPDEFTTL = 64;
const IP_DF = 0x4000;
const IP_MF = 0x2000;
const IP_OFFMASK = 0x1fff;

export interface Ipv4Header {
  tos: number;
  id: number;
  /** Don't fragment. */
  df: boolean;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
}

/** A parsed packet: its header and its payload (a view, cut to the header's total length). */
export interface Ipv4Packet extends Ipv4Header {
  headerLength: number;
  payload: Uint8Array;
}

/** Why a packet was refused: the ip counter it bumps (FreeBSD's ips_* names). */
export type Ipv4Error = 'tooshort' | 'badvers' | 'badhlen' | 'badsum' | 'badlen' | 'fragdropped';

/** Writes a 20-byte header for a payload of `payloadLength` bytes at `offset`, its checksum included. */
export function writeIpv4Header(view: DataView, offset: number, h: Ipv4Header, payloadLength: number): void {
  view.setUint8(offset, 0x45);
  view.setUint8(offset + 1, h.tos);
  view.setUint16(offset + 2, IPV4_HDR_LEN + payloadLength);
  view.setUint16(offset + 4, h.id);
  view.setUint16(offset + 6, h.df ? IP_DF : 0);
  view.setUint8(offset + 8, h.ttl);
  view.setUint8(offset + 9, h.protocol);
  view.setUint16(offset + 10, 0);
  view.setUint32(offset + 12, h.src);
  view.setUint32(offset + 16, h.dst);
  view.setUint16(offset + 10, checksumOf(sum16(view, offset, IPV4_HDR_LEN)));
}

/** Parses and checks a packet (version, header length, checksum, total length); fragments are refused. */
export function parseIpv4(bytes: Uint8Array): Ipv4Packet | Ipv4Error {
  if (bytes.length < IPV4_HDR_LEN) return 'tooshort';
  const vhl = bytes[0]!;
  if (vhl >> 4 !== 4) return 'badvers';
  const headerLength = (vhl & 0x0f) * 4;
  if (headerLength < IPV4_HDR_LEN || headerLength > bytes.length) return 'badhlen';
  if (!verifies(sumOf(bytes, 0, headerLength))) return 'badsum';
  const total = be16(bytes, 2);
  if (total < headerLength) return 'badlen';
  if (total > bytes.length) return 'tooshort';
  const off = be16(bytes, 6);
  if ((off & (IP_MF | IP_OFFMASK)) !== 0) return 'fragdropped';
  return {
    tos: bytes[1]!,
    id: be16(bytes, 4),
    df: (off & IP_DF) !== 0,
    ttl: bytes[8]!,
    protocol: bytes[9]!,
    src: be32(bytes, 12),
    dst: be32(bytes, 16),
    headerLength,
    payload: bytes.subarray(headerLength, total),
  };
}

/** A whole packet: header then a copy of `payload`. */
export function buildIpv4(h: Ipv4Header, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(IPV4_HDR_LEN + payload.length);
  writeIpv4Header(viewOf(bytes), 0, h, payload.length);
  bytes.set(payload, IPV4_HDR_LEN);
  return bytes;
}

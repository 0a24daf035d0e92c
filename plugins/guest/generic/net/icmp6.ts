/**
 * ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861): echo request/reply, neighbour solicitation and
 * advertisement with their link-layer address options. Checksums cover the IPv6 pseudo-header.
 */
import { be16, checksumOf, sum16, sumOf, verifies, viewOf } from './checksum.js';

export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_OPT_SOURCE_LINKADDR = 1;
export const ND_OPT_TARGET_LINKADDR = 2;
export const ND_NA_FLAG_ROUTER = 0x80;
export const ND_NA_FLAG_SOLICITED = 0x40;
export const ND_NA_FLAG_OVERRIDE = 0x20;
/** Hop limit every ND message is sent with and must arrive with. */
export const ND_HOPLIMIT = 255;
const ICMP6_HDR_LEN = 8;
/** A neighbour solicitation or advertisement without options. */
export const ND_LEN = 24;
/** A link-layer address option for Ethernet (type, length 1 = 8 bytes, MAC). */
export const ND_OPT_LLADDR_LEN = 8;

export interface Icmp6Echo {
  kind: 'echo-request' | 'echo-reply';
  id: number;
  seq: number;
  data: Uint8Array;
}

export interface Icmp6NeighborSolicit {
  kind: 'ns';
  target: Uint8Array;
  /** From the source link-layer address option, when present. */
  sourceMac: Uint8Array | undefined;
}

export interface Icmp6NeighborAdvert {
  kind: 'na';
  /** ND_NA_FLAG_* bits. */
  flags: number;
  target: Uint8Array;
  /** From the target link-layer address option, when present. */
  targetMac: Uint8Array | undefined;
}

export interface Icmp6Other {
  kind: 'other';
  type: number;
  code: number;
}

export type Icmp6Message = Icmp6Echo | Icmp6NeighborSolicit | Icmp6NeighborAdvert | Icmp6Other;

/** Why a message was refused: the icmp6 counter it bumps. */
export type Icmp6Error = 'tooshort' | 'badsum' | 'badcode' | 'badlen';

/**
 * Parses and checks a message. `pseudoBase` is the pseudo-header's sum without the length
 * (`pseudoSum6(src, dst, 58, 0)`). Addresses and data are views into `bytes`.
 */
export function parseIcmp6(bytes: Uint8Array, pseudoBase: number): Icmp6Message | Icmp6Error {
  if (bytes.length < ICMP6_HDR_LEN) return 'tooshort';
  if (!verifies(sumOf(bytes, 0, bytes.length, pseudoBase + bytes.length))) return 'badsum';
  const type = bytes[0]!;
  const code = bytes[1]!;
  if (type === ICMP6_ECHO_REQUEST || type === ICMP6_ECHO_REPLY) {
    return { kind: type === ICMP6_ECHO_REQUEST ? 'echo-request' : 'echo-reply', id: be16(bytes, 4), seq: be16(bytes, 6), data: bytes.subarray(ICMP6_HDR_LEN) };
  }
  if (type !== ND_NEIGHBOR_SOLICIT && type !== ND_NEIGHBOR_ADVERT) return { kind: 'other', type, code };
  if (code !== 0) return 'badcode';
  if (bytes.length < ND_LEN) return 'badlen';
  const wanted = type === ND_NEIGHBOR_SOLICIT ? ND_OPT_SOURCE_LINKADDR : ND_OPT_TARGET_LINKADDR;
  let mac: Uint8Array | undefined;
  for (let off = ND_LEN; off < bytes.length; ) {
    if (off + 2 > bytes.length) return 'badlen';
    const optLen = bytes[off + 1]! * 8;
    if (optLen === 0 || off + optLen > bytes.length) return 'badlen';
    if (bytes[off] === wanted && optLen >= ND_OPT_LLADDR_LEN) mac = bytes.subarray(off + 2, off + 8);
    off += optLen;
  }
  const target = bytes.subarray(8, 24);
  return type === ND_NEIGHBOR_SOLICIT ? { kind: 'ns', target, sourceMac: mac } : { kind: 'na', flags: bytes[4]!, target, targetMac: mac };
}

function finish(view: DataView, offset: number, length: number, pseudoBase: number): void {
  view.setUint16(offset + 2, checksumOf(sum16(view, offset, length, pseudoBase + length)));
}

/** Writes an echo request or reply carrying `data` at `offset`, its checksum included. */
export function writeIcmp6Echo(bytes: Uint8Array, view: DataView, offset: number, type: number, id: number, seq: number, data: Uint8Array, pseudoBase: number): void {
  view.setUint32(offset, type << 24);
  view.setUint16(offset + 4, id);
  view.setUint16(offset + 6, seq);
  bytes.set(data, offset + ICMP6_HDR_LEN);
  finish(view, offset, ICMP6_HDR_LEN + data.length, pseudoBase);
}

/** Bytes of an ND message for `type` with a link-layer option (or without, `mac` undefined). */
export function ndLength(mac: Uint8Array | undefined): number {
  return ND_LEN + (mac ? ND_OPT_LLADDR_LEN : 0);
}

/**
 * Writes a neighbour solicitation (with the source link-layer option `mac`) or advertisement (with the
 * target link-layer option `mac`, and `flags`) for `target` at `offset`; {@link ndLength} bytes.
 */
export function writeNd(bytes: Uint8Array, view: DataView, offset: number, type: typeof ND_NEIGHBOR_SOLICIT | typeof ND_NEIGHBOR_ADVERT, flags: number, target: Uint8Array, mac: Uint8Array | undefined, pseudoBase: number): void {
  view.setUint32(offset, type << 24);
  view.setUint32(offset + 4, type === ND_NEIGHBOR_ADVERT ? flags << 24 : 0);
  bytes.set(target.subarray(0, 16), offset + 8);
  if (mac) {
    bytes[offset + ND_LEN] = type === ND_NEIGHBOR_SOLICIT ? ND_OPT_SOURCE_LINKADDR : ND_OPT_TARGET_LINKADDR;
    bytes[offset + ND_LEN + 1] = 1;
    bytes.set(mac.subarray(0, 6), offset + ND_LEN + 2);
  }
  finish(view, offset, ndLength(mac), pseudoBase);
}

/** An echo request (128) or reply (129). */
export function buildIcmp6Echo(type: number, id: number, seq: number, data: Uint8Array, pseudoBase: number): Uint8Array {
  const bytes = new Uint8Array(ICMP6_HDR_LEN + data.length);
  writeIcmp6Echo(bytes, viewOf(bytes), 0, type, id, seq, data, pseudoBase);
  return bytes;
}

/** A neighbour solicitation or advertisement. */
export function buildNd(type: typeof ND_NEIGHBOR_SOLICIT | typeof ND_NEIGHBOR_ADVERT, flags: number, target: Uint8Array, mac: Uint8Array | undefined, pseudoBase: number): Uint8Array {
  const bytes = new Uint8Array(ndLength(mac));
  writeNd(bytes, viewOf(bytes), 0, type, flags, target, mac, pseudoBase);
  return bytes;
}

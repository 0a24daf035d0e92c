/** ARP for IPv4 over Ethernet (RFC 826): the 28-byte packet. */
import { readIp4, writeIp4 } from './addr.js';
import { ETHERTYPE_IP } from './ether.js';

export const ARP_LEN = 28;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;
const ARPHRD_ETHER = 1;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

/** Why an ARP packet was refused: the arp counter it bumps. */
export type ArpError = 'tooshort' | 'badformat' | 'badop';

/** Parses an ARP packet (trailing padding allowed); MACs are views into `bytes`. */
export function parseArp(bytes: Uint8Array): ArpPacket | ArpError {
  if (bytes.length < ARP_LEN) return 'tooshort';
  const htype = (bytes[0]! << 8) | bytes[1]!;
  const ptype = (bytes[2]! << 8) | bytes[3]!;
  if (htype !== ARPHRD_ETHER || ptype !== ETHERTYPE_IP || bytes[4] !== 6 || bytes[5] !== 4) return 'badformat';
  const op = (bytes[6]! << 8) | bytes[7]!;
  if (op !== ARPOP_REQUEST && op !== ARPOP_REPLY) return 'badop';
  return { op, senderMac: bytes.subarray(8, 14), senderIp: readIp4(bytes, 14), targetMac: bytes.subarray(18, 24), targetIp: readIp4(bytes, 24) };
}

/** Writes an ARP packet at `offset` of `bytes`. */
export function writeArp(bytes: Uint8Array, offset: number, p: ArpPacket): void {
  bytes[offset] = 0;
  bytes[offset + 1] = ARPHRD_ETHER;
  bytes[offset + 2] = ETHERTYPE_IP >>> 8;
  bytes[offset + 3] = ETHERTYPE_IP & 0xff;
  bytes[offset + 4] = 6;
  bytes[offset + 5] = 4;
  bytes[offset + 6] = p.op >>> 8;
  bytes[offset + 7] = p.op & 0xff;
  bytes.set(p.senderMac.subarray(0, 6), offset + 8);
  writeIp4(bytes, offset + 14, p.senderIp);
  bytes.set(p.targetMac.subarray(0, 6), offset + 18);
  writeIp4(bytes, offset + 24, p.targetIp);
}

/** A 28-byte ARP packet. */
export function buildArp(p: ArpPacket): Uint8Array {
  const bytes = new Uint8Array(ARP_LEN);
  writeArp(bytes, 0, p);
  return bytes;
}

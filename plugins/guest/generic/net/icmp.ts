/** ICMP for IPv4 (RFC 792): echo request and reply; other types are parsed far enough to be counted. */
import { be16, checksumOf, sum16, sumOf, verifies, viewOf } from './checksum.js';

export const ICMP_ECHOREPLY = 0;
export const ICMP_ECHO = 8;
export const ICMP_MINLEN = 8;

/** A message: type, code, the echo identifier and sequence (bytes 4–7), and the data after them (a view). */
export interface IcmpMessage {
  type: number;
  code: number;
  id: number;
  seq: number;
  data: Uint8Array;
}

/** Why a message was refused: the icmp counter it bumps. */
export type IcmpError = 'tooshort' | 'badsum';

/** Parses and checks a message (its checksum covers the whole message). */
export function parseIcmp(bytes: Uint8Array): IcmpMessage | IcmpError {
  if (bytes.length < ICMP_MINLEN) return 'tooshort';
  if (!verifies(sumOf(bytes, 0, bytes.length))) return 'badsum';
  return { type: bytes[0]!, code: bytes[1]!, id: be16(bytes, 4), seq: be16(bytes, 6), data: bytes.subarray(ICMP_MINLEN) };
}

/** Writes an echo request or reply carrying `data` at `offset`, its checksum included. */
export function writeIcmpEcho(bytes: Uint8Array, view: DataView, offset: number, type: number, id: number, seq: number, data: Uint8Array): void {
  view.setUint8(offset, type);
  view.setUint8(offset + 1, 0);
  view.setUint16(offset + 2, 0);
  view.setUint16(offset + 4, id);
  view.setUint16(offset + 6, seq);
  bytes.set(data, offset + ICMP_MINLEN);
  view.setUint16(offset + 2, checksumOf(sum16(view, offset, ICMP_MINLEN + data.length)));
}

/** An echo request (type 8) or reply (type 0). */
export function buildIcmpEcho(type: number, id: number, seq: number, data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(ICMP_MINLEN + data.length);
  writeIcmpEcho(bytes, viewOf(bytes), 0, type, id, seq, data);
  return bytes;
}

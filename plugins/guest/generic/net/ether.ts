/** Ethernet II framing (IEEE 802.3 with an EtherType): addresses, the 14-byte header, multicast mapping. */

export const ETHER_ADDR_LEN = 6;
export const ETHER_HDR_LEN = 14;
export const ETHERTYPE_IP = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export const BROADCAST_MAC: Uint8Array = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** Parses `00:16:3e:0a:0b:0c` (or with dashes); undefined when it is not a MAC address. */
export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9A-Fa-f]{1,2}$/.test(p))) return undefined;
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** `00:16:3e:0a:0b:0c`: lower case, two digits per byte, as ifconfig prints it. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + bytes[offset + i]!.toString(16).padStart(2, '0');
  return s;
}

/** The MAC as one number below 2^48 (a cheap Map key). */
export function macKey(bytes: Uint8Array, offset = 0): number {
  return (bytes[offset]! * 0x10000 + ((bytes[offset + 1]! << 8) | bytes[offset + 2]!)) * 0x1000000 + ((bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!);
}

/** True when the 6 bytes at `offset` of `frame` equal `mac`. */
export function macEquals(frame: Uint8Array, offset: number, mac: Uint8Array): boolean {
  return frame[offset] === mac[0] && frame[offset + 1] === mac[1] && frame[offset + 2] === mac[2] && frame[offset + 3] === mac[3] && frame[offset + 4] === mac[4] && frame[offset + 5] === mac[5];
}

/** The group bit: multicast or broadcast destinations. */
export function isGroupMac(frame: Uint8Array, offset = 0): boolean {
  return (frame[offset]! & 1) === 1;
}

/** The Ethernet group address of an IPv6 multicast address (RFC 2464 §7): 33:33 and its last 32 bits. */
export function multicastMac6(group: Uint8Array, offset = 0): Uint8Array {
  return Uint8Array.of(0x33, 0x33, group[offset + 12]!, group[offset + 13]!, group[offset + 14]!, group[offset + 15]!);
}

/** Writes the header: destination, source, EtherType. */
export function writeEtherHeader(frame: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = type >>> 8;
  frame[13] = type & 0xff;
}

/** A parsed header; the payload is a view into the frame. */
export interface EtherFrame {
  dst: Uint8Array;
  src: Uint8Array;
  type: number;
  payload: Uint8Array;
}

/** Parses a frame (no FCS); 'tooshort' under 14 bytes. Addresses and payload are views, not copies. */
export function parseEther(frame: Uint8Array): EtherFrame | 'tooshort' {
  if (frame.length < ETHER_HDR_LEN) return 'tooshort';
  return { dst: frame.subarray(0, 6), src: frame.subarray(6, 12), type: (frame[12]! << 8) | frame[13]!, payload: frame.subarray(ETHER_HDR_LEN) };
}

/** A whole frame: header then a copy of `payload`. */
export function buildEther(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETHER_HDR_LEN + payload.length);
  writeEtherHeader(frame, dst, src, type);
  frame.set(payload, ETHER_HDR_LEN);
  return frame;
}

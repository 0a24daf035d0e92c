/** IP addresses: IPv4 as a 32-bit number, IPv6 as 16 bytes, their text forms (RFC 5952) and prefixes. */

/** An IPv4 address, parsed once. */
export interface Ip4Addr {
  readonly family: 4;
  /** The address as an unsigned 32-bit number (10.0.0.2 = 0x0a000002). */
  readonly value: number;
  readonly text: string;
}

/** An IPv6 address, parsed once. */
export interface Ip6Addr {
  readonly family: 6;
  readonly bytes: Uint8Array;
  /** The canonical text (RFC 5952), without a zone. */
  readonly text: string;
  /** The zone of a scoped address (`fe80::1%xn0` → `xn0`). */
  readonly zone: string | undefined;
}

export type IpAddr = Ip4Addr | Ip6Addr;

/** Parses dotted-quad IPv4 text; undefined when it is not one. */
export function parseIp4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** `10.0.0.2` from 0x0a000002. */
export function formatIp4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Reads an IPv4 address stored big-endian at `offset`. */
export function readIp4(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Stores an IPv4 address big-endian at `offset`. */
export function writeIp4(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** The netmask of a prefix length (24 → 0xffffff00). */
export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Parses IPv6 text (with `::`, an embedded IPv4 tail and a `%zone`); undefined when it is not one. */
export function parseIp6(text: string): { bytes: Uint8Array; zone: string | undefined } | undefined {
  let zone: string | undefined;
  const pct = text.indexOf('%');
  if (pct >= 0) {
    zone = text.slice(pct + 1);
    if (!/^[A-Za-z0-9_.-]+$/.test(zone)) return undefined;
    text = text.slice(0, pct);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIp4(part);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(part)) return undefined;
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >>> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { bytes, zone };
}

/** The RFC 5952 text of 16 bytes at `offset`: lower case, the longest run of two or more zero groups as `::`. */
export function formatIp6(bytes: Uint8Array, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

/** Parses an IPv4 or IPv6 address; undefined when `text` is neither. */
export function parseIp(text: string): IpAddr | undefined {
  const v4 = parseIp4(text);
  if (v4 !== undefined) return { family: 4, value: v4, text: formatIp4(v4) };
  const v6 = parseIp6(text);
  if (v6 !== undefined) return { family: 6, bytes: v6.bytes, text: formatIp6(v6.bytes), zone: v6.zone };
  return undefined;
}

/** An IPv6 address from bytes (copied). */
export function ip6(bytes: Uint8Array, offset = 0, zone?: string): Ip6Addr {
  const copy = bytes.slice(offset, offset + 16);
  return { family: 6, bytes: copy, text: formatIp6(copy), zone };
}

/** An IPv4 address from its number. */
export function ip4(value: number): Ip4Addr {
  return { family: 4, value: value >>> 0, text: formatIp4(value) };
}

/** True when the first `prefixLen` bits of `a` (at `aOffset`) and `b` agree. */
export function samePrefix6(a: Uint8Array, aOffset: number, b: Uint8Array, prefixLen: number): boolean {
  let bits = prefixLen;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((a[aOffset + i]! ^ b[i]!) & mask) !== 0) return false;
  }
  return true;
}

/** True when the 16 bytes at `offset` of `a` equal `b`. */
export function equal6(a: Uint8Array, offset: number, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[offset + i] !== b[i]) return false;
  return true;
}

/** fe80::/10. */
export function isLinkLocal6(bytes: Uint8Array, offset = 0): boolean {
  return bytes[offset] === 0xfe && (bytes[offset + 1]! & 0xc0) === 0x80;
}

/** ff00::/8. */
export function isMulticast6(bytes: Uint8Array, offset = 0): boolean {
  return bytes[offset] === 0xff;
}

/** ::. */
export function isUnspecified6(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 16; i++) if (bytes[offset + i] !== 0) return false;
  return true;
}

/** The link-local address of a MAC by modified EUI-64 (RFC 4291 appendix A): fe80::216:3eff:fe00:1 from 00:16:3e:00:00:01. */
export function linkLocalOf(mac: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0]! ^ 0x02;
  a[9] = mac[1]!;
  a[10] = mac[2]!;
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3]!;
  a[14] = mac[4]!;
  a[15] = mac[5]!;
  return a;
}

/** The solicited-node multicast group of an address (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX. */
export function solicitedNodeOf(addr: Uint8Array, offset = 0): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xff;
  a[1] = 0x02;
  a[11] = 0x01;
  a[12] = 0xff;
  a[13] = addr[offset + 13]!;
  a[14] = addr[offset + 14]!;
  a[15] = addr[offset + 15]!;
  return a;
}

/** ff02::1, the all-nodes group. */
export const ALL_NODES6: Uint8Array = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

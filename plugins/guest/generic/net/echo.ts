/** ICMP echo as ping(8) uses it: the data it sends (a timestamp, then a byte pattern) and the replies it reads. */

/** One echo reply, with what ping prints: `64 bytes from 10.0.0.2: icmp_seq=0 ttl=64 time=0.123 ms`. */
export interface EchoReply {
  family: 4 | 6;
  /** Who answered (`fe80::1%xn0` for a scoped IPv6 address). */
  from: string;
  id: number;
  seq: number;
  /** ICMP bytes (header and data): ping's "64 bytes". */
  bytes: number;
  /** IPv4 TTL or IPv6 hop limit of the reply. */
  ttl: number;
  /** Virtual ns the request was sent (read back from its data); undefined when the data was too short to hold it. */
  sentAt: number | undefined;
  /** Virtual ns the reply arrived. */
  receivedAt: number;
}

/** Bytes of the timestamp at the head of the data. */
export const ECHO_STAMP_LEN = 8;

/** Echo data of `size` bytes: the virtual time as seconds and nanoseconds (when it fits), then bytes 8, 9, 10… as ping fills them. */
export function echoData(size: number, now: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = ECHO_STAMP_LEN; i < size; i++) data[i] = i & 0xff;
  if (size >= ECHO_STAMP_LEN) {
    const view = new DataView(data.buffer);
    view.setUint32(0, Math.floor(now / 1e9));
    view.setUint32(4, now % 1e9);
  }
  return data;
}

/** The send time stamped in echo data; undefined when the data is too short. */
export function echoSentAt(data: Uint8Array): number | undefined {
  if (data.length < ECHO_STAMP_LEN) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, ECHO_STAMP_LEN);
  return view.getUint32(0) * 1e9 + view.getUint32(4);
}

/**
 * ping's line for a reply, as FreeBSD prints it: `64 bytes from 10.0.0.2: icmp_seq=0 ttl=64 time=0.123 ms`,
 * and for IPv6 `64 bytes from fd00::2, icmp_seq=0 hlim=64 time=0.123 ms` (no time when the data was too short to carry it).
 */
export function formatEchoReply(r: EchoReply): string {
  const time = r.sentAt === undefined ? '' : ` time=${((r.receivedAt - r.sentAt) / 1e6).toFixed(3)} ms`;
  return r.family === 4 ? `${r.bytes} bytes from ${r.from}: icmp_seq=${r.seq} ttl=${r.ttl}${time}` : `${r.bytes} bytes from ${r.from}, icmp_seq=${r.seq} hlim=${r.ttl}${time}`;
}

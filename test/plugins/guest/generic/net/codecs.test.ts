/** The network codecs: known vectors, round trips and mutations (fast-check), and fuzzed input that must never throw. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp4, formatIp6, linkLocalOf, parseIp, parseIp4, parseIp6, solicitedNodeOf } from '../../../../../plugins/guest/generic/net/addr.js';
import { ARPOP_REPLY, ARPOP_REQUEST, buildArp, parseArp } from '../../../../../plugins/guest/generic/net/arp.js';
import { checksumOf, fold, pseudoSum4, pseudoSum6, sum16, verifies, viewOf } from '../../../../../plugins/guest/generic/net/checksum.js';
import { buildEther, formatMac, multicastMac6, parseEther, parseMac } from '../../../../../plugins/guest/generic/net/ether.js';
import { ICMP_ECHO, buildIcmpEcho, parseIcmp } from '../../../../../plugins/guest/generic/net/icmp.js';
import { ICMP6_ECHO_REPLY, ICMP6_ECHO_REQUEST, ND_NA_FLAG_OVERRIDE, ND_NA_FLAG_SOLICITED, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, buildIcmp6Echo, buildNd, parseIcmp6 } from '../../../../../plugins/guest/generic/net/icmp6.js';
import { IPPROTO_UDP, buildIpv4, parseIpv4, writeIpv4Header } from '../../../../../plugins/guest/generic/net/ipv4.js';
import { IPPROTO_ICMPV6, buildIpv6, parseIpv6 } from '../../../../../plugins/guest/generic/net/ipv6.js';
import { buildUdp, parseUdp } from '../../../../../plugins/guest/generic/net/udp.js';

/** RFC 1071 done the slow, obvious way: the reference the fast sum is checked against. */
function referenceSum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const mac = bytes(6, 6);
const ip6bytes = bytes(16, 16);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });

/** `bytes` with byte `at` changed by `delta` (1–255). */
function mutate(b: Uint8Array, at: number, delta: number): Uint8Array {
  const out = b.slice();
  out[at] = (out[at]! + delta) & 0xff;
  return out;
}

describe('the Internet checksum', () => {
  it('matches RFC 1071\'s worked example and the folded reference sum at any offset and length', () => {
    const ex = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(checksumOf(sum16(viewOf(ex), 0, ex.length))).toBe(~0xddf2 & 0xffff);
    fc.assert(
      fc.property(bytes(0, 300), fc.nat(7), (data, pad) => {
        const buf = new Uint8Array(pad + data.length);
        buf.set(data, pad);
        const folded = sum16(new DataView(buf.buffer), pad, data.length);
        expect(checksumOf(folded)).toBe(~referenceSum(data) & 0xffff);
      }),
    );
  });

  it('gives the reference checksum over long runs too (read as native words), with a start value, and sums of parts add up', () => {
    fc.assert(
      fc.property(bytes(0, 9000), fc.nat(7), fc.nat(9000), fc.nat(0xfffff), (data, pad, cut, initial) => {
        const buf = new Uint8Array(pad + data.length + 3);
        buf.set(data, pad);
        const view = new DataView(buf.buffer);
        const whole = sum16(view, pad, data.length, initial);
        const start = initial === 0 ? 0 : fold(initial);
        expect(fold(whole)).toBe(fold(referenceSum(data) + start));
        expect(whole === 0).toBe(initial === 0 && data.every((b) => b === 0));
        const at = Math.min(cut, data.length) & ~1; // a part of an even length, so the second keeps the word boundaries
        expect(fold(sum16(view, pad + at, data.length - at, sum16(view, pad, at, initial)))).toBe(fold(whole));
      }),
      { numRuns: 300 },
    );
    expect(checksumOf(sum16(viewOf(new Uint8Array(1500)), 0, 1500))).toBe(0xffff);
  });

  it('writes an IPv4 header whose checksum is the published one (b861 for 192.168.0.1 → 192.168.0.199)', () => {
    const buf = new Uint8Array(20);
    writeIpv4Header(viewOf(buf), 0, { tos: 0, id: 0, df: true, ttl: 64, protocol: 17, src: 0xc0a80001, dst: 0xc0a800c7 }, 0x73 - 20);
    expect(Buffer.from(buf).toString('hex')).toBe('4500007300004000' + '4011b861' + 'c0a80001c0a800c7');
  });
});

describe('addresses', () => {
  it('formats IPv6 as RFC 5952 says and parses every textual form back', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::1', '::1'],
      ['FE80::216:3EFF:FE00:A', 'fe80::216:3eff:fe00:a'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ];
    for (const [text, canonical] of cases) expect(parseIp(text)?.text).toBe(canonical);
    for (const bad of ['1:2:3:4:5:6:7:8:9', ':::', '1::2::3', 'g::1', '1:2:3:4:5:6:7', '12345::', '::1%', '1.2.3.256', '01.2.3.4', '1.2.3', '']) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
    expect(parseIp6('fe80::1%xn0')?.zone).toBe('xn0');
    expect(formatIp4(parseIp4('10.0.0.255')!)).toBe('10.0.0.255');
    fc.assert(
      fc.property(ip6bytes, (b) => {
        const text = formatIp6(b);
        expect([...parseIp6(text)!.bytes]).toEqual([...b]);
        expect(text).not.toMatch(/(^|:)0[0-9a-f]/);
        expect(text.split('::').length).toBeLessThanOrEqual(2);
      }),
    );
  });

  it('derives the EUI-64 link-local address, the solicited-node group and its 33:33 MAC', () => {
    const m = parseMac('00:16:3e:00:00:0a')!;
    expect(formatIp6(linkLocalOf(m))).toBe('fe80::216:3eff:fe00:a');
    const group = solicitedNodeOf(parseIp6('fd00::1:2:3')!.bytes);
    expect(formatIp6(group)).toBe('ff02::1:ff02:3');
    expect(formatMac(multicastMac6(group))).toBe('33:33:ff:02:00:03');
    expect(parseMac('00:16:3e:00:00')).toBeUndefined();
  });
});

describe('Ethernet and ARP', () => {
  it('round-trip any header and payload; refuse frames under 14 bytes', () => {
    fc.assert(
      fc.property(mac, mac, u16, bytes(0, 100), (dst, src, type, payload) => {
        const f = parseEther(buildEther(dst, src, type, payload));
        expect(f).not.toBe('tooshort');
        if (typeof f === 'string') return;
        expect([[...f.dst], [...f.src], f.type, [...f.payload]]).toEqual([[...dst], [...src], type, [...payload]]);
      }),
    );
    expect(parseEther(new Uint8Array(13))).toBe('tooshort');
  });

  it('round-trip ARP requests and replies; refuse short, foreign-format and unknown-op packets', () => {
    fc.assert(
      fc.property(fc.constantFrom(ARPOP_REQUEST, ARPOP_REPLY), mac, u32, mac, u32, (op, senderMac, senderIp, targetMac, targetIp) => {
        const p = parseArp(buildArp({ op, senderMac, senderIp, targetMac, targetIp }));
        expect(p).toEqual({ op, senderMac, senderIp, targetMac, targetIp });
      }),
    );
    const good = buildArp({ op: 1, senderMac: new Uint8Array(6), senderIp: 1, targetMac: new Uint8Array(6), targetIp: 2 });
    expect(parseArp(good.subarray(0, 27))).toBe('tooshort');
    expect(parseArp(mutate(good, 3, 1))).toBe('badformat');
    expect(parseArp(mutate(good, 7, 2))).toBe('badop');
  });
});

const ipv4Header = fc.record({ tos: fc.nat(255), id: u16, df: fc.boolean(), ttl: fc.nat(255), protocol: fc.nat(255), src: u32, dst: u32 });

describe('IPv4', () => {
  it('round-trips any header and payload', () => {
    fc.assert(
      fc.property(ipv4Header, bytes(0, 200), (h, payload) => {
        const p = parseIpv4(buildIpv4(h, payload));
        if (typeof p === 'string') throw new Error(p);
        expect({ ...p, payload: [...p.payload] }).toEqual({ ...h, headerLength: 20, payload: [...payload] });
      }),
    );
  });

  it('rejects a header with any one byte changed, and says why', () => {
    fc.assert(
      fc.property(ipv4Header, bytes(0, 40), fc.nat(19), fc.integer({ min: 1, max: 255 }), (h, payload, at, delta) => {
        const r = parseIpv4(mutate(buildIpv4(h, payload), at, delta));
        expect(typeof r).toBe('string');
      }),
    );
    const good = buildIpv4({ tos: 0, id: 1, df: false, ttl: 64, protocol: 1, src: 1, dst: 2 }, new Uint8Array(8));
    expect(parseIpv4(good.subarray(0, 19))).toBe('tooshort');
    expect(parseIpv4(good.subarray(0, 27))).toBe('tooshort');
    expect(parseIpv4(mutate(good, 0, 0x10))).toBe('badvers');
    expect(parseIpv4(mutate(good, 0, -1))).toBe('badhlen');
    expect(parseIpv4(mutate(good, 10, 1))).toBe('badsum');
    const frag = buildIpv4({ tos: 0, id: 1, df: false, ttl: 64, protocol: 1, src: 1, dst: 2 }, new Uint8Array(8));
    frag[6] = 0x20;
    frag[10] = frag[11] = 0;
    viewOf(frag).setUint16(10, checksumOf(sum16(viewOf(frag), 0, 20)));
    expect(parseIpv4(frag)).toBe('fragdropped');
  });

  it('cuts Ethernet padding off at the total length', () => {
    const p = buildIpv4({ tos: 0, id: 1, df: false, ttl: 64, protocol: 1, src: 1, dst: 2 }, Uint8Array.of(1, 2, 3));
    const padded = new Uint8Array(46);
    padded.set(p);
    const r = parseIpv4(padded);
    expect(typeof r !== 'string' && [...r.payload]).toEqual([1, 2, 3]);
  });
});

describe('IPv6', () => {
  it('round-trips any header and payload; refuses a short packet or another version', () => {
    fc.assert(
      fc.property(fc.nat(255), fc.nat(0xfffff), fc.nat(255), fc.nat(255), ip6bytes, ip6bytes, bytes(0, 100), (trafficClass, flowLabel, nextHeader, hopLimit, src, dst, payload) => {
        const p = parseIpv6(buildIpv6({ trafficClass, flowLabel, nextHeader, hopLimit, src, dst }, payload));
        if (typeof p === 'string') throw new Error(p);
        expect([p.trafficClass, p.flowLabel, p.nextHeader, p.hopLimit, [...p.src], [...p.dst], [...p.payload]]).toEqual([trafficClass, flowLabel, nextHeader, hopLimit, [...src], [...dst], [...payload]]);
      }),
    );
    const good = buildIpv6({ trafficClass: 0, flowLabel: 0, nextHeader: 58, hopLimit: 64, src: new Uint8Array(16), dst: new Uint8Array(16) }, new Uint8Array(8));
    expect(parseIpv6(good.subarray(0, 47))).toBe('tooshort');
    expect(parseIpv6(mutate(good, 0, 0x10))).toBe('badvers');
  });
});

describe('ICMP and ICMPv6', () => {
  it('round-trips echo messages and rejects any one byte changed', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 8), u16, u16, bytes(0, 100), fc.nat(), fc.integer({ min: 1, max: 255 }), (type, id, seq, data, at, delta) => {
        const m = buildIcmpEcho(type, id, seq, data);
        const p = parseIcmp(m);
        if (typeof p === 'string') throw new Error(p);
        expect([p.type, p.code, p.id, p.seq, [...p.data]]).toEqual([type, 0, id, seq, [...data]]);
        expect(parseIcmp(mutate(m, at % m.length, delta))).toBe('badsum');
      }),
    );
    expect(parseIcmp(buildIcmpEcho(ICMP_ECHO, 1, 1, new Uint8Array(0)).subarray(0, 7))).toBe('tooshort');
  });

  it('round-trips ICMPv6 echo and ND messages under their pseudo-header; another destination fails the checksum', () => {
    fc.assert(
      fc.property(ip6bytes, ip6bytes, ip6bytes, u16, u16, bytes(0, 64), mac, fc.boolean(), (src, dst, other, id, seq, data, hw, withMac) => {
        fc.pre(formatIp6(dst) !== formatIp6(other));
        const base = pseudoSum6(src, dst, IPPROTO_ICMPV6, 0);
        const echo = buildIcmp6Echo(ICMP6_ECHO_REQUEST, id, seq, data, base);
        expect(parseIcmp6(echo, base)).toEqual({ kind: 'echo-request', id, seq, data });
        expect(parseIcmp6(echo, pseudoSum6(src, other, IPPROTO_ICMPV6, 0))).toBe('badsum');
        const lladdr = withMac ? hw : undefined;
        const ns = parseIcmp6(buildNd(ND_NEIGHBOR_SOLICIT, 0, other, lladdr, base), base);
        expect(ns).toEqual({ kind: 'ns', target: other, sourceMac: lladdr });
        const flags = ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE;
        expect(parseIcmp6(buildNd(ND_NEIGHBOR_ADVERT, flags, other, lladdr, base), base)).toEqual({ kind: 'na', flags, target: other, targetMac: lladdr });
      }),
    );
  });

  it('refuses ND messages with a bad code, a short body or an option of length 0', () => {
    const src = new Uint8Array(16);
    const dst = parseIp6('ff02::1:ff00:1')!.bytes;
    const base = pseudoSum6(src, dst, IPPROTO_ICMPV6, 0);
    const resum = (m: Uint8Array) => {
      m[2] = m[3] = 0;
      viewOf(m).setUint16(2, checksumOf(sum16(viewOf(m), 0, m.length, base + m.length)));
      return m;
    };
    const ns = buildNd(ND_NEIGHBOR_SOLICIT, 0, parseIp6('fd00::1')!.bytes, parseMac('00:16:3e:00:00:01'), base);
    expect(parseIcmp6(resum(mutate(ns, 1, 1)), base)).toBe('badcode');
    expect(parseIcmp6(resum(ns.slice(0, 20)), base)).toBe('badlen');
    const zeroOpt = ns.slice();
    zeroOpt[25] = 0;
    expect(parseIcmp6(resum(zeroOpt), base)).toBe('badlen');
    expect(parseIcmp6(buildIcmp6Echo(ICMP6_ECHO_REPLY, 1, 2, new Uint8Array(0), base).subarray(0, 7), base)).toBe('tooshort');
  });
});

describe('UDP', () => {
  it('round-trips over either pseudo-header and rejects any one byte changed (IPv6 refuses a zero checksum)', () => {
    fc.assert(
      fc.property(u32, u32, u16, u16, bytes(0, 200), fc.nat(), fc.integer({ min: 1, max: 255 }), (src, dst, sport, dport, data, at, delta) => {
        const base = pseudoSum4(src, dst, IPPROTO_UDP, 0);
        const d = buildUdp(sport, dport, data, base);
        expect(parseUdp(d, base, true)).toEqual({ srcPort: sport, dstPort: dport, data, checksummed: true });
        expect(typeof parseUdp(mutate(d, at % d.length, delta), base, false)).toBe('string');
      }),
    );
  });

  it('sends a computed 0 as ffff; accepts no checksum on IPv4 only; refuses a bad length', () => {
    const base = pseudoSum4(0x0a000001, 0x0a000002, IPPROTO_UDP, 0);
    const probe = buildUdp(1000, 2000, new Uint8Array(2), base);
    const word = viewOf(probe).getUint16(6);
    const d = buildUdp(1000, 2000, Uint8Array.of(word >>> 8, word & 0xff), base);
    expect(viewOf(d).getUint16(6)).toBe(0xffff);
    expect(verifies(sum16(viewOf(d), 0, d.length, base + d.length))).toBe(true);
    expect(parseUdp(d, base, true)).not.toBeTypeOf('string');
    const none = d.slice();
    none[6] = none[7] = 0;
    expect(parseUdp(none, base, true)).toMatchObject({ checksummed: false });
    expect(parseUdp(none, base, false)).toBe('nosum');
    expect(parseUdp(d.subarray(0, 7), base, true)).toBe('hdrops');
    expect(parseUdp(d.subarray(0, 9), base, true)).toBe('badlen');
  });
});

describe('every parser on random bytes', () => {
  it('returns a value or a reason, never throws', () => {
    fc.assert(
      fc.property(bytes(0, 120), u32, (b, base) => {
        for (const parse of [parseEther, parseArp, parseIpv4, parseIpv6, parseIcmp, (x: Uint8Array) => parseIcmp6(x, base), (x: Uint8Array) => parseUdp(x, base, true)]) {
          expect(() => parse(b)).not.toThrow();
        }
      }),
      { numRuns: 500 },
    );
  });
});

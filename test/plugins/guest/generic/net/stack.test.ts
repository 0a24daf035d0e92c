/** The network stack between two hosts: ARP and ND, ping over IPv4 and IPv6, resolution that gives up, ifconfig. */
import { describe, expect, it } from 'vitest';
import { formatIp4, formatIp6, parseIp6 } from '../../../../../plugins/guest/generic/net/addr.js';
import { ARPOP_REPLY, ARPOP_REQUEST, buildArp, parseArp } from '../../../../../plugins/guest/generic/net/arp.js';
import { pseudoSum6 } from '../../../../../plugins/guest/generic/net/checksum.js';
import { formatEchoReply } from '../../../../../plugins/guest/generic/net/echo.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, buildEther, formatMac, multicastMac6 } from '../../../../../plugins/guest/generic/net/ether.js';
import { ND_NA_FLAG_OVERRIDE, ND_NA_FLAG_SOLICITED, ND_NEIGHBOR_SOLICIT, buildNd, parseIcmp6 } from '../../../../../plugins/guest/generic/net/icmp6.js';
import { IPPROTO_ICMPV6, buildIpv6, parseIpv6 } from '../../../../../plugins/guest/generic/net/ipv6.js';
import { parseIpv4 } from '../../../../../plugins/guest/generic/net/ipv4.js';
import { NetStack } from '../../../../../plugins/guest/generic/net/stack.js';
import { Clock, FakeDriver, MAC_A, MAC_B, backToBack, cabled, etherType, makeHost } from './helpers.js';

function arpOf(frame: Uint8Array) {
  const p = parseArp(frame.subarray(14));
  if (typeof p === 'string') throw new Error(`not ARP: ${p}`);
  return { op: p.op, sender: `${formatMac(p.senderMac)} ${formatIp4(p.senderIp)}`, target: formatIp4(p.targetIp), dst: formatMac(frame) };
}

function icmp6Of(frame: Uint8Array) {
  const ip = parseIpv6(frame.subarray(14));
  if (typeof ip === 'string') throw new Error(`not IPv6: ${ip}`);
  const m = parseIcmp6(ip.payload, pseudoSum6(ip.src, ip.dst, IPPROTO_ICMPV6, 0));
  if (typeof m === 'string') throw new Error(`bad ICMPv6: ${m}`);
  return { dstMac: formatMac(frame), src: formatIp6(ip.src), dst: formatIp6(ip.dst), hlim: ip.hopLimit, m };
}

describe('ping over IPv4', () => {
  it('resolves the peer with one ARP exchange, then gets its echo reply with the time it took', () => {
    const clock = new Clock();
    const c = cabled(clock);
    const sentAt = clock.t;
    c.a.ping('10.0.0.2', { id: 0x1234, seq: 0 });
    expect(c.da.sent.map(arpOf)).toEqual([{ op: ARPOP_REQUEST, sender: '00:16:3e:00:00:0a 10.0.0.1', target: '10.0.0.2', dst: 'ff:ff:ff:ff:ff:ff' }]);
    clock.advance(50_000);
    c.pump();
    expect(c.db.sent.map(arpOf)).toEqual([{ op: ARPOP_REPLY, sender: '00:16:3e:00:00:0b 10.0.0.2', target: '10.0.0.1', dst: '00:16:3e:00:00:0a' }]);
    clock.advance(50_000);
    c.pump();
    expect(c.da.sent).toHaveLength(2);
    const echo = parseIpv4(c.da.sent[1]!.subarray(14));
    expect(typeof echo !== 'string' && [echo.protocol, formatIp4(echo.dst), echo.ttl, echo.payload.length]).toEqual([1, '10.0.0.2', 64, 64]);
    clock.advance(23_456);
    c.drain();
    const replies = c.a.takeEchoReplies();
    expect(replies).toEqual([{ family: 4, from: '10.0.0.2', id: 0x1234, seq: 0, bytes: 64, ttl: 64, sentAt, receivedAt: clock.t }]);
    expect(formatEchoReply(replies[0]!)).toBe('64 bytes from 10.0.0.2: icmp_seq=0 ttl=64 time=0.123 ms');
    expect(c.a.takeEchoReplies()).toEqual([]);

    c.a.ping('10.0.0.2', { id: 0x1234, seq: 1, size: 100 });
    c.drain();
    expect(c.da.sent.filter((f) => etherType(f) === ETHERTYPE_ARP)).toHaveLength(1);
    expect(c.a.takeEchoReplies().map((r) => [r.seq, r.bytes])).toEqual([[1, 108]]);
    const sa = c.a.stats();
    const sb = c.b.stats();
    expect([sa.arp.txrequests, sa.arp.rxreplies, sb.arp.rxrequests, sb.arp.txreplies]).toEqual([1, 1, 1, 1]);
    expect([sa.icmp.outhist.echo, sa.icmp.inhist.echoreply, sb.icmp.inhist.echo, sb.icmp.outhist.echoreply]).toEqual([2, 2, 2, 2]);
    expect(c.b.neighbors()).toEqual([{ ifname: 'xn0', family: 4, address: '10.0.0.1', mac: '00:16:3e:00:00:0a', expiresInNs: 1200e9 - 73_456 }]);
  });

  it('gives up on an absent host after 3 ARP requests 1 s apart, dropping what waited', () => {
    const clock = new Clock();
    const { stack, driver } = makeHost(clock, MAC_A, { inet: '10.0.0.1/24' });
    const t0 = clock.t;
    for (let seq = 0; seq < 20; seq++) stack.ping('10.0.0.9', { id: 1, seq });
    expect(stack.stats().arp.dropped).toBe(4);
    const requests = () => driver.sent.filter((f) => etherType(f) === ETHERTYPE_ARP).length;
    expect([requests(), stack.deadline()]).toEqual([1, t0 + 1e9]);
    clock.advance(999_999_999);
    stack.timeout();
    expect([requests(), stack.deadline()]).toEqual([1, t0 + 1e9]);
    clock.advance(1);
    stack.timeout();
    expect([requests(), stack.deadline()]).toEqual([2, t0 + 2e9]);
    clock.t = stack.deadline();
    stack.timeout();
    expect([requests(), stack.deadline()]).toEqual([3, t0 + 3e9]);
    clock.t = stack.deadline();
    stack.timeout();
    expect([requests(), stack.deadline(), driver.sent.length]).toEqual([3, 0, 3]);
    expect(stack.stats().arp).toMatchObject({ timeouts: 1, dropped: 20 });
    expect(stack.neighbors()).toEqual([]);
  });

  it('loops a ping to its own address back without touching the driver', () => {
    const clock = new Clock();
    const { stack, driver } = makeHost(clock, MAC_A, { inet: '10.0.0.1/24' });
    stack.ping('10.0.0.1', { id: 5, seq: 3 });
    expect(stack.takeEchoReplies().map((r) => [r.from, r.seq])).toEqual([['10.0.0.1', 3]]);
    expect(driver.sent).toEqual([]);
  });

  it('learns only from ARP for us (RFC 826 merge), and re-learns a MAC that changed', () => {
    const clock = new Clock();
    const { stack, driver } = makeHost(clock, MAC_A, { inet: '10.0.0.1/24' });
    const arp = (op: number, senderMac: Uint8Array, senderIp: number, targetIp: number) =>
      stack.input('xn0', buildEther(Uint8Array.of(255, 255, 255, 255, 255, 255), senderMac, ETHERTYPE_ARP, buildArp({ op, senderMac, senderIp, targetMac: new Uint8Array(6), targetIp })));
    const c1 = Uint8Array.of(2, 0, 0, 0, 0, 1);
    const c2 = Uint8Array.of(2, 0, 0, 0, 0, 2);
    arp(ARPOP_REQUEST, c1, 0x0a000003, 0x0a000004);
    expect(stack.neighbors()).toEqual([]);
    expect(driver.sent).toEqual([]);
    arp(ARPOP_REQUEST, c1, 0x0a000003, 0x0a000001);
    expect(stack.neighbors().map((n) => n.mac)).toEqual(['02:00:00:00:00:01']);
    expect(driver.sent.map(arpOf)).toEqual([{ op: ARPOP_REPLY, sender: '00:16:3e:00:00:0a 10.0.0.1', target: '10.0.0.3', dst: '02:00:00:00:00:01' }]);
    arp(ARPOP_REPLY, c2, 0x0a000003, 0x0a000009);
    expect(stack.neighbors().map((n) => n.mac)).toEqual(['02:00:00:00:00:02']);
  });
});

describe('ping over IPv6', () => {
  it('resolves with a neighbour solicitation to the solicited-node group and a solicited advertisement back', () => {
    const clock = new Clock();
    const c = cabled(clock);
    c.a.ping('fd00::2', { id: 9, seq: 0 });
    const ns = icmp6Of(c.da.sent[0]!);
    expect(ns).toMatchObject({ dstMac: '33:33:ff:00:00:02', src: 'fd00::1', dst: 'ff02::1:ff00:2', hlim: 255, m: { kind: 'ns', target: parseIp6('fd00::2')!.bytes, sourceMac: MAC_A } });
    c.pump();
    const na = icmp6Of(c.db.sent[0]!);
    expect(na).toMatchObject({ dstMac: '00:16:3e:00:00:0a', src: 'fd00::2', dst: 'fd00::1', hlim: 255, m: { kind: 'na', flags: ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE, targetMac: MAC_B } });
    clock.advance(1_000_000);
    c.drain();
    expect(icmp6Of(c.da.sent[1]!)).toMatchObject({ dstMac: '00:16:3e:00:00:0b', src: 'fd00::1', dst: 'fd00::2', hlim: 64, m: { kind: 'echo-request', id: 9, seq: 0 } });
    const [reply] = c.a.takeEchoReplies();
    expect(formatEchoReply(reply!)).toBe('64 bytes from fd00::2, icmp_seq=0 hlim=64 time=1.000 ms');
    const s = c.b.stats().icmp6;
    expect([s.inhist.neighborsolicit, s.outhist.neighboradvert, s.inhist.echo, s.outhist.echoreply]).toEqual([1, 1, 1, 1]);
    expect(c.a.neighbors()).toMatchObject([{ family: 6, address: 'fd00::2', mac: '00:16:3e:00:00:0b' }]);
  });

  it('pings a link-local address through its zone, and the all-nodes group', () => {
    const clock = new Clock();
    const c = cabled(clock);
    c.a.ping('fe80::216:3eff:fe00:b%xn0', { id: 1, seq: 0, size: 8 });
    c.drain();
    expect(icmp6Of(c.da.sent[0]!)).toMatchObject({ src: 'fe80::216:3eff:fe00:a', dst: 'ff02::1:ff00:b' });
    c.a.ping('ff02::1', { id: 1, seq: 1, size: 0 });
    c.drain();
    expect(c.a.takeEchoReplies().map((r) => [r.from, r.seq, r.bytes, r.sentAt === undefined])).toEqual([
      ['fe80::216:3eff:fe00:b%xn0', 0, 16, false],
      ['fe80::216:3eff:fe00:b%xn0', 1, 8, true],
    ]);
  });

  it('gives up on an absent neighbour after 3 solicitations', () => {
    const clock = new Clock();
    const { stack, driver } = makeHost(clock, MAC_A, { inet6: 'fd00::1/64' });
    stack.ping('fd00::99', { id: 1, seq: 0 });
    while (stack.deadline() !== 0) {
      clock.t = stack.deadline();
      stack.timeout();
    }
    expect(driver.sent.map((f) => icmp6Of(f).m.kind)).toEqual(['ns', 'ns', 'ns']);
    expect(clock.t - 1e9).toBe(3e9);
    expect(stack.stats().nd6).toEqual({ dropped: 1, timeouts: 1 });
  });

  it('answers a duplicate-address probe (source ::) to all-nodes, and drops ND that crossed a router (hop limit < 255)', () => {
    const clock = new Clock();
    const { stack, driver } = makeHost(clock, MAC_B, { inet6: 'fd00::2/64' });
    const target = parseIp6('fd00::2')!.bytes;
    const group = parseIp6('ff02::1:ff00:2')!.bytes;
    const send = (src: Uint8Array, hopLimit: number, mac: Uint8Array | undefined) => {
      const nd = buildNd(ND_NEIGHBOR_SOLICIT, 0, target, mac, pseudoSum6(src, group, IPPROTO_ICMPV6, 0));
      stack.input('xn0', buildEther(multicastMac6(group), MAC_A, ETHERTYPE_IPV6, buildIpv6({ trafficClass: 0, flowLabel: 0, nextHeader: IPPROTO_ICMPV6, hopLimit, src, dst: group }, nd)));
    };
    send(new Uint8Array(16), 255, undefined);
    expect(icmp6Of(driver.sent[0]!)).toMatchObject({ dst: 'ff02::1', dstMac: '33:33:00:00:00:01', m: { kind: 'na', flags: ND_NA_FLAG_OVERRIDE } });
    send(parseIp6('fd00::1')!.bytes, 64, MAC_A);
    expect(driver.sent).toHaveLength(1);
    expect(stack.stats().icmp6.badhlim).toBe(1);
  });
});

describe('interfaces', () => {
  it('prints ifconfig as FreeBSD does', () => {
    const clock = new Clock();
    const { stack, driver } = makeHost(clock, MAC_A, { inet: '10.0.0.1/24', inet6: 'fd00::1/64' });
    expect(stack.ifconfig()).toBe(
      [
        'xn0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500',
        '\tether 00:16:3e:00:00:0a',
        '\tinet 10.0.0.1 netmask 0xffffff00 broadcast 10.0.0.255',
        '\tinet6 fe80::216:3eff:fe00:a%xn0 prefixlen 64 scopeid 0x1',
        '\tinet6 fd00::1 prefixlen 64',
        '\tmedia: Ethernet manual',
        '\tstatus: active',
        '\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>',
        '',
      ].join('\n'),
    );
    driver.up = false;
    stack.attach(new FakeDriver('rl0', MAC_B));
    stack.configure('rl0', { inet: '192.168.1.7' });
    const out = stack.ifconfig();
    expect(out).toContain('xn0: flags=8803<UP,BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500');
    expect(out).toContain('\tstatus: no carrier');
    expect(stack.ifconfig('rl0')).toContain('\tinet 192.168.1.7 netmask 0xffffff00 broadcast 192.168.1.255\n\tinet6 fe80::216:3eff:fe00:b%rl0 prefixlen 64 scopeid 0x2\n');
  });

  it('refuses bad addresses, unknown interfaces and a second interface of one name, naming them', () => {
    const clock = new Clock();
    const { stack, driver } = makeHost(clock, MAC_A, {});
    expect(() => stack.configure('xn0', { inet: '10.0.0.300/24' })).toThrow(/xn0: bad inet address "10.0.0.300\/24"/);
    expect(() => stack.configure('xn0', { inet: '10.0.0.1/33' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => stack.configure('xn0', { inet6: 'fe80::1/64' })).toThrow(/bad inet6 address/);
    expect(() => stack.configure('xn1', { inet: '10.0.0.1/24' })).toThrow(expect.objectContaining({ code: 'ENXIO', message: 'xn1: no such interface' }));
    expect(() => stack.attach(driver)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => stack.ping('10.0.0.2', { id: 1, seq: 0 })).toThrow(expect.objectContaining({ code: 'ENETUNREACH' }));
    expect(() => stack.ping('nowhere', { id: 1, seq: 0 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => stack.ping('10.0.0.2', { id: 70000, seq: 0 })).toThrow(/id must be an integer from 0 to 65535/);
  });

  it('runs the same way twice (no hidden clock or randomness)', () => {
    const run = () => {
      const clock = new Clock();
      const { a, b, da, db } = backToBack(clock);
      a.ping('10.0.0.2', { id: 1, seq: 0 });
      b.ping('fd00::1', { id: 2, seq: 0 });
      a.udpSend(a.udpBind(), 'fd00::2', 9, Uint8Array.of(1, 2, 3));
      return [...da.sent, ...db.sent].map((f) => Buffer.from(f).toString('hex'));
    };
    const first = run();
    expect(first.length).toBeGreaterThan(6);
    expect(run()).toEqual(first);
  });

  it('drops frames the driver refuses or that find the link down, counting them', () => {
    const clock = new Clock();
    const { a, da } = backToBack(clock);
    a.ping('10.0.0.2', { id: 1, seq: 0 });
    da.full = true;
    expect(a.udpSend(1000, '10.0.0.2', 9, new Uint8Array(10))).toBe(false);
    da.full = false;
    da.up = false;
    expect(a.udpSend(1000, '10.0.0.2', 9, new Uint8Array(10))).toBe(false);
    expect(a.stats().ether).toMatchObject({ txdrops: 1, linkdown: 1 });
  });

  it('detach drops what waited for resolution on that interface', () => {
    const clock = new Clock();
    const { stack } = makeHost(clock, MAC_A, { inet: '10.0.0.1/24' });
    stack.ping('10.0.0.9', { id: 1, seq: 0 });
    stack.detach('xn0');
    expect([stack.interfaces().length, stack.deadline(), stack.stats().arp.dropped]).toEqual([0, 0, 1]);
    expect(() => new NetStack({ now: clock.now }).input('xn9', new Uint8Array(60))).not.toThrow();
  });
});

/** UDP between two stacks: echo both ways over IPv4 and IPv6, socket queues and their limits, send errors. */
import { describe, expect, it } from 'vitest';
import type { IpAddr } from '../../../../../plugins/guest/generic/net/addr.js';
import type { NetStack } from '../../../../../plugins/guest/generic/net/stack.js';
import type { UdpSocket } from '../../../../../plugins/guest/generic/net/udp-socket.js';
import { Clock, backToBack, cabled } from './helpers.js';

/** An echo server: every datagram goes back to where it came from. */
function echoServer(stack: NetStack, port: number): UdpSocket {
  const sock = stack.udpBind(port);
  sock.onReadable = () => {
    for (let d = sock.recv(); d !== undefined; d = sock.recv()) sock.send(d.fromAddr, d.fromPort, d.data);
  };
  return sock;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytesOf = (s: string) => new TextEncoder().encode(s);

describe('UDP', () => {
  for (const [family, aAddr, bAddr] of [
    ['IPv4', '10.0.0.1', '10.0.0.2'],
    ['IPv6', 'fd00::1', 'fd00::2'],
    ['IPv6 link-local', 'fe80::216:3eff:fe00:a%xn0', 'fe80::216:3eff:fe00:b%xn0'],
  ] as const) {
    it(`echoes datagrams both ways over ${family}`, () => {
      const clock = new Clock();
      const { a, b } = backToBack(clock);
      echoServer(b, 7);
      echoServer(a, 7);
      const ca = a.udpBind();
      const cb = b.udpBind(5000);
      expect(ca.port).toBe(49152);
      let wakeups = 0;
      ca.onReadable = () => wakeups++;
      expect(ca.send(bAddr, 7, bytesOf('hello from a'))).toBe(true);
      expect(ca.send(bAddr, 7, bytesOf('again'))).toBe(true);
      expect(cb.send(aAddr, 7, bytesOf('hello from b'))).toBe(true);
      const got = [ca.recv(), ca.recv(), cb.recv(), ca.recv()];
      expect(got.map((d) => d && [text(d.data), d.from, d.fromPort, d.family])).toEqual([
        ['hello from a', bAddr, 7, family === 'IPv4' ? 4 : 6],
        ['again', bAddr, 7, family === 'IPv4' ? 4 : 6],
        ['hello from b', aAddr, 7, family === 'IPv4' ? 4 : 6],
        undefined,
      ]);
      expect(wakeups).toBe(1);
      const s = b.stats().udp;
      expect([s.ipackets, s.delivered, s.opackets, s.badsum]).toEqual([3, 3, 3, 0]);
    });
  }

  it('skips verifying a UDP checksum only when the driver says the device checked it (CSUM_DATA_VALID)', () => {
    const clock = new Clock();
    const { a, b, da } = backToBack(clock);
    const sink = b.udpBind(9);
    a.udpSend(1234, '10.0.0.2', 9, bytesOf('resolves ARP first'));
    expect(sink.pending).toBe(1);
    for (const validated of [false, true]) {
      da.wire = (f) => {
        const bad = f.slice();
        bad[bad.length - 1]! ^= 0xff; // a payload byte: the UDP checksum no longer matches
        b.input('xn0', bad, validated);
      };
      a.udpSend(1234, '10.0.0.2', 9, bytesOf('checked?'));
    }
    expect(b.stats().udp.badsum).toBe(1);
    expect(sink.pending).toBe(2);
  });

  it('carries the largest datagram the MTU allows (1472 bytes over IPv4, 1452 over IPv6) and refuses one more', () => {
    const clock = new Clock();
    const { a, b } = backToBack(clock);
    const sink = b.udpBind(9);
    const payload = Uint8Array.from({ length: 1472 }, (_, i) => (i * 31) & 0xff);
    expect(a.udpSend(1234, '10.0.0.2', 9, payload)).toBe(true);
    expect(a.udpSend(1234, 'fd00::2', 9, payload.subarray(0, 1452))).toBe(true);
    expect([...sink.recv()!.data]).toEqual([...payload]);
    expect(sink.recv()!.data.length).toBe(1452);
    expect(() => a.udpSend(1234, '10.0.0.2', 9, new Uint8Array(1473))).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
    expect(() => a.udpSend(1234, 'fd00::2', 9, new Uint8Array(1453))).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
  });

  it('keeps each datagram that waits for its next hop, and each looped back, as it was sent (every frame is built in one buffer)', () => {
    const clock = new Clock();
    const cable = cabled(clock);
    const sink = cable.b.udpBind(9);
    for (const [dst, words] of [['10.0.0.2', ['one', 'two', 'three']], ['fd00::2', ['four', 'five']]] as const) {
      for (const w of words) expect(cable.a.udpSend(1234, dst, 9, bytesOf(w))).toBe(true);
    }
    expect(sink.pending).toBe(0); // ARP and ND still under way: all five wait
    cable.drain();
    const got: string[] = [];
    for (let d = sink.recv(); d !== undefined; d = sink.recv()) got.push(text(d.data));
    expect(got).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(cable.b.stats().udp.badsum).toBe(0);
    const self = cable.a.udpBind(7);
    cable.a.udpSend(1234, '10.0.0.1', 7, bytesOf('to myself'));
    cable.a.udpSend(1234, '10.0.0.1', 7, bytesOf('and again'));
    expect([text(self.recv()!.data), text(self.recv()!.data)]).toEqual(['to myself', 'and again']);
  });

  it('bounds a socket\'s queue, counts what it drops and what finds no port, and unbinds on close', () => {
    const clock = new Clock();
    const { a, b } = backToBack(clock);
    const sink = b.udpBind(9, { rcvbuf: 3 * (1000 + 32) });
    for (let i = 0; i < 5; i++) a.udpSend(1234, '10.0.0.2', 9, new Uint8Array(1000));
    a.udpSend(1234, '10.0.0.2', 10, new Uint8Array(10));
    a.udpSend(1234, '10.0.0.255', 10, new Uint8Array(10));
    expect([sink.pending, sink.pendingBytes]).toEqual([3, 3000]);
    expect(b.stats().udp).toMatchObject({ delivered: 3, fullsock: 2, noport: 1, noportbcast: 1 });
    sink.recv();
    expect([sink.pending, sink.pendingBytes]).toEqual([2, 2000]);
    expect(() => b.udpBind(9)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', message: 'udp: port 9 is already bound' }));
    sink.close();
    expect(sink.recv()).toBeUndefined();
    expect(() => sink.send('10.0.0.1', 9, new Uint8Array(1))).toThrow(/socket 9 is closed/);
    expect(b.udpBind(9).port).toBe(9);
  });

  it('delivers broadcasts to the subnet', () => {
    const clock = new Clock();
    const { a, b, da } = backToBack(clock);
    const sink = b.udpBind(67);
    a.udpSend(68, '10.0.0.255', 67, bytesOf('discover'));
    expect(da.sent.map((f) => f.subarray(0, 6).every((x) => x === 0xff))).toEqual([true]);
    expect(text(sink.recv()!.data)).toBe('discover');
  });

  it('takes a parsed address as well as text, and refuses bad ports, addresses and destinations', () => {
    const clock = new Clock();
    const { a, b } = backToBack(clock);
    const sink = b.udpBind(9);
    const to: IpAddr = { family: 4, value: 0x0a000002, text: '10.0.0.2' };
    a.udpSend(1, to, 9, bytesOf('x'));
    expect(sink.recv()?.fromAddr).toEqual({ family: 4, value: 0x0a000001, text: '10.0.0.1' });
    expect(() => a.udpSend(0, '10.0.0.2', 9, bytesOf('x'))).toThrow(/bad port/);
    expect(() => a.udpSend(1, '10.0.0.2', 65536, bytesOf('x'))).toThrow(/bad port/);
    expect(() => a.udpSend(1, '10.0.0.', 9, bytesOf('x'))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => a.udpSend(1, '172.16.0.1', 9, bytesOf('x'))).toThrow(expect.objectContaining({ code: 'ENETUNREACH', message: 'udp: sendto 172.16.0.1: No route to host' }));
    expect(() => a.udpSend(1, '2001:db8::1', 9, bytesOf('x'))).toThrow(expect.objectContaining({ code: 'ENETUNREACH' }));
    expect(a.stats().ip.noroute + a.stats().ip6.noroute).toBe(2);
  });
});

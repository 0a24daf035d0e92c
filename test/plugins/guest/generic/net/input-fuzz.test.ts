/** Hostile frames into the stack: random bytes and valid frames with bytes changed are counted, never thrown, never answered wrongly. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NetStats } from '../../../../../plugins/guest/generic/net/stats.js';
import { Clock, backToBack, cabled } from './helpers.js';

/** The counters of frames refused: a refused frame bumps exactly one. */
function refusals(s: NetStats): number {
  const { ether, arp, ip, icmp, ip6, icmp6, udp } = s;
  return (
    ether.tooshort + ether.otherhost + ether.noproto + arp.tooshort + arp.badformat + arp.badop +
    ip.badsum + ip.tooshort + ip.badvers + ip.badhlen + ip.badlen + ip.fragdropped + ip.cantforward + ip.noproto +
    icmp.tooshort + icmp.badsum + ip6.tooshort + ip6.badvers + ip6.notmember + ip6.cantforward + ip6.noproto +
    icmp6.tooshort + icmp6.badsum + icmp6.badcode + icmp6.badlen + icmp6.badhlim +
    udp.hdrops + udp.badlen + udp.badsum + udp.nosum + udp.noport + udp.noportbcast
  );
}

/** Real frames of a ping and a UDP exchange in both families, as the wire carried them. */
function recordedFrames(): Uint8Array[] {
  const clock = new Clock();
  const c = cabled(clock);
  c.b.udpBind(9);
  c.a.ping('10.0.0.2', { id: 1, seq: 0 });
  c.a.ping('fd00::2', { id: 1, seq: 0 });
  c.drain();
  c.a.udpSend(1000, '10.0.0.2', 9, Uint8Array.of(1, 2, 3, 4, 5));
  c.a.udpSend(1000, 'fd00::2', 9, Uint8Array.of(1, 2, 3, 4, 5));
  c.drain();
  return [...c.da.sent, ...c.db.sent];
}

describe('the stack against hostile input', () => {
  const frames = recordedFrames();

  it('counts random frames and never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 200 }), { maxLength: 20 }), (inputs) => {
        const { b } = backToBack(new Clock());
        for (const f of inputs) expect(() => b.input('xn0', f)).not.toThrow();
        expect(b.stats().ether.ipackets).toBe(inputs.length);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an IP frame with any checksum-covered byte changed, counting why and answering nothing', () => {
    const ip = frames.filter((f) => f[12] !== 0x08 || f[13] !== 0x06);
    expect(ip.length).toBe(8);
    fc.assert(
      fc.property(fc.constantFrom(...ip), fc.nat(), fc.integer({ min: 1, max: 255 }), (frame, at, delta) => {
        const { a, b, db } = backToBack(new Clock());
        const sink = b.udpBind(9);
        const i = 12 + (at % (frame.length - 12));
        const v6 = frame[12] === 0x86;
        // IPv6 has no header checksum: traffic class, flow label and hop limit are covered by nothing.
        fc.pre(!(v6 && ((i === 14 && ((frame[i]! + delta) & 0xf0) === 0x60) || i === 15 || i === 16 || i === 17 || i === 21)));
        const bad = frame.slice();
        bad[i] = (bad[i]! + delta) & 0xff;
        const before = refusals(b.stats());
        expect(() => b.input('xn0', bad)).not.toThrow();
        expect(refusals(b.stats())).toBe(before + 1);
        expect([sink.pending, db.sent.length, a.takeEchoReplies().length, b.takeEchoReplies().length]).toEqual([0, 0, 0, 0]);
      }),
      { numRuns: 1000 },
    );
  });

  it('names the counter for the usual faults', () => {
    const { b } = backToBack(new Clock());
    const udp4 = frames.find((f) => f[12] === 0x08 && f[13] === 0 && f[23] === 17)!;
    const corrupt = (f: Uint8Array, i: number) => {
      const x = f.slice();
      x[i] = x[i]! ^ 0x40;
      return x;
    };
    b.input('xn0', corrupt(udp4, udp4.length - 1));
    b.input('xn0', corrupt(udp4, 24));
    const other = udp4.slice();
    other[5] = other[5]! ^ 1;
    b.input('xn0', other);
    const weird = udp4.slice();
    weird[13] = 0x99;
    b.input('xn0', weird);
    b.input('xn0', udp4.subarray(0, 10));
    const s = b.stats();
    expect([s.udp.badsum, s.ip.badsum, s.ether.otherhost, s.ether.noproto, s.ether.tooshort]).toEqual([1, 1, 1, 1, 1]);
  });
});

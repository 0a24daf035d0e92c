/** The learning switch: learning and flooding, ageing by virtual time, detach, malformed frames, ports that fail. */
import { describe, expect, it } from 'vitest';
import { GuestError } from '../../../../core/api/index.js';
import { BCAST, RecordingPort, frame, mac, makeBridge } from './helpers.js';

function threePorts() {
  const env = makeBridge();
  const ports = [new RecordingPort('vif1.0'), new RecordingPort('vif2.0'), new RecordingPort('tap3.0')] as const;
  const plugs = ports.map((p) => env.bridge.attach(p));
  return { ...env, ports, plugs };
}

describe('the learning bridge', () => {
  it('floods an unknown destination, then sends to the port the MAC was learnt on', () => {
    const { bridge, ports: [p1, p2, p3], plugs: [s1, s2] } = threePorts();
    s1!.send(frame(mac(2), mac(1)));
    expect([p1.take(), p2.take(), p3.take()]).toEqual([0, 1, 1]);
    expect([...bridge.macs()]).toEqual([['02:00:00:00:00:01', 'vif1.0']]);
    s2!.send(frame(mac(1), mac(2)));
    expect([p1.take(), p2.take(), p3.take()]).toEqual([1, 0, 0]);
    s1!.send(frame(mac(2), mac(1)));
    expect([p1.take(), p2.take(), p3.take()]).toEqual([0, 1, 0]);
    expect(bridge.stats).toEqual({ received: 3, delivered: 4, dropped: 0, malformed: 0 });
    expect(bridge.ports()).toEqual(['vif1.0', 'vif2.0', 'tap3.0']);
  });

  it('floods broadcast and multicast to every other port even when the group "MAC" was seen', () => {
    const { ports: [p1, p2, p3], plugs: [s1, s2] } = threePorts();
    s2!.send(frame(mac(1), mac(2)));
    p1.take();
    p3.take();
    s1!.send(frame(BCAST, mac(1)));
    s1!.send(frame(Uint8Array.of(0x33, 0x33, 0, 0, 0, 1), mac(1)));
    expect([p1.take(), p2.take(), p3.take()]).toEqual([0, 2, 2]);
  });

  it('never sends a frame back out of the port it came in by: it drops it', () => {
    const { bridge, ports: [p1, p2, p3], plugs: [s1] } = threePorts();
    s1!.send(frame(BCAST, mac(1)));
    s1!.send(frame(BCAST, mac(4)));
    p2.take();
    p3.take();
    s1!.send(frame(mac(4), mac(1)));
    expect([p1.take(), p2.take(), p3.take()]).toEqual([0, 0, 0]);
    expect(bridge.stats.dropped).toBe(1);
  });

  it('re-learns a MAC that moved to another port', () => {
    const { bridge, ports: [p1, , p3], plugs: [s1, s2, s3] } = threePorts();
    s1!.send(frame(BCAST, mac(1)));
    s3!.send(frame(BCAST, mac(1)));
    expect(bridge.macs().get('02:00:00:00:00:01')).toBe('tap3.0');
    p1.take();
    p3.take();
    s2!.send(frame(mac(1), mac(2)));
    expect([p1.take(), p3.take()]).toEqual([0, 1]);
  });

  it('ages entries out by virtual time (the frame then floods), and learns nothing with ageing 0', () => {
    const { bridge, clock, ports: [p1, , p3], plugs: [s1, s2] } = threePorts();
    s1!.send(frame(BCAST, mac(1)));
    p3.take();
    clock.t += 300e9 - 1;
    s2!.send(frame(mac(1), mac(2)));
    expect([p1.take(), p3.take()]).toEqual([1, 0]);
    clock.t += 1;
    expect(bridge.macs().has('02:00:00:00:00:01')).toBe(false);
    s2!.send(frame(mac(1), mac(2)));
    expect([p1.take(), p3.take()]).toEqual([1, 1]);

    const hub = makeBridge({ ageingNs: 0 });
    const [a, b, c] = [new RecordingPort('a'), new RecordingPort('b'), new RecordingPort('c')];
    const [sa, sb] = [hub.bridge.attach(a), hub.bridge.attach(b), hub.bridge.attach(c)];
    sa!.send(frame(BCAST, mac(1)));
    sb!.send(frame(mac(1), mac(2)));
    expect([a.take(), b.take(), c.take()]).toEqual([1, 1, 2]);
    expect(hub.bridge.macs().size).toBe(0);
  });

  it('forgets a detached port\'s MACs, sends it nothing more, and lets its name be used again', () => {
    const { bridge, ports: [p1, p2, p3], plugs: [s1, s2] } = threePorts();
    s1!.send(frame(BCAST, mac(1)));
    s2!.send(frame(BCAST, mac(2)));
    s1!.detach();
    s1!.detach();
    expect([...bridge.macs().keys()]).toEqual(['02:00:00:00:00:02']);
    expect(bridge.ports()).toEqual(['vif2.0', 'tap3.0']);
    p1.take();
    p2.take();
    p3.take();
    s2!.send(frame(mac(1), mac(2)));
    expect([p1.take(), p3.take()]).toEqual([0, 1]);
    const before = bridge.stats;
    s1!.send(frame(mac(2), mac(1)));
    expect(p2.take()).toBe(0);
    expect(bridge.stats.dropped).toBe(before.dropped + 1);
    expect(() => bridge.attach(new RecordingPort('vif2.0'))).toThrow(GuestError);
    expect(() => bridge.attach(new RecordingPort('vif2.0'))).toThrow('bridge xenbr0: a port named vif2.0 is attached already');
    bridge.attach(new RecordingPort('vif1.0'));
    expect(bridge.ports()).toEqual(['vif2.0', 'tap3.0', 'vif1.0']);
  });

  it('counts frames under 14 bytes, over mtu + 18 or from a group address as malformed and drops them', () => {
    const { bridge, plugs: [s1], ports: [, p2] } = threePorts();
    s1!.send(new Uint8Array(13));
    s1!.send(frame(BCAST, mac(1), 1500 + 5));
    s1!.send(frame(BCAST, BCAST));
    expect(p2.take()).toBe(0);
    s1!.send(frame(BCAST, mac(1), 1500 + 4));
    s1!.send(new Uint8Array(14).fill(0xff, 0, 6).fill(2, 6, 7));
    expect(p2.take()).toBe(2);
    expect(bridge.stats).toMatchObject({ received: 5, malformed: 3 });
  });

  it('keeps delivering to the other ports when one throws or refuses, logging the one that threw', () => {
    const { bridge, logs, ports: [p1, p2, p3], plugs: [s1] } = threePorts();
    p2.mode = 'throw';
    for (let i = 0; i < 3; i++) s1!.send(frame(BCAST, mac(1)));
    expect(p3.take()).toBe(3);
    p3.mode = 'refuse';
    s1!.send(frame(BCAST, mac(1)));
    expect(p1.take()).toBe(0);
    expect(bridge.stats).toEqual({ received: 4, delivered: 3, dropped: 5, malformed: 0 });
    expect(logs.lines('error')).toEqual(['plugin bridge: bridge xenbr0: port vif2.0 failed to take a frame (1 so far): ring is gone']);
  });

  it('copes with ports that answer, attach or detach while a frame is being delivered', () => {
    const { bridge, ports: [p1, p2, p3], plugs: [s1, s2, s3] } = threePorts();
    p2.onDeliver = (f) => {
      if (f[0] === 0xff) s2!.send(frame(mac(1), mac(2)));
    };
    let late: RecordingPort | undefined;
    p1.onDeliver = () => {
      if (late === undefined) {
        late = new RecordingPort('late');
        bridge.attach(late);
        s3!.detach();
      }
    };
    s1!.send(frame(BCAST, mac(1)));
    expect([p1.take(), p2.take(), p3.take(), late?.take()]).toEqual([1, 1, 0, 0]);
    expect(bridge.ports()).toEqual(['vif1.0', 'vif2.0', 'late']);
  });
});

/** The guest-ring transport on a real host: a simulated guest writes requests into its page and notifies; plus the EventChannels onEvent hook. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../../core/host/host.js';
import { EventChannels, type GuestMemory as GuestMemoryApi } from '../../../../core/api/index.js';
import { domId, evtchnPort, guestPhysAddr } from '../../../../core/public/index.js';
import { bootTestHost } from '../../../hypervisor/harness.js';
import { XS_RING, XsRingTransport } from '../../../../plugins/dom0/xenstored/ring.js';
import type { XsConnection, XsSession } from '../../../../plugins/dom0/xenstored/connection.js';
import { XsType, decodeHeader, encodeMessage } from '../../../../plugins/dom0/xenstored/wire.js';
import { XenstoreEngine } from '../../../../plugins/dom0/xenstored/engine.js';
import { EchoEngine } from './socket-echo-engine.js';

const GFN = 0x200;
const BASE = GFN * 4096;
let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

/** A guest's side of the ring: its memory, its unbound port for Dom0, and helpers to talk. */
class SimGuest {
  readonly mem: GuestMemoryApi;
  readonly port: number;
  constructor(
    readonly host: Host,
    readonly domid = 1,
  ) {
    this.mem = host.domains.lookup(domid).guestMemory;
    this.port = this.evtchn.allocUnbound(domId(domid), domId(0));
  }
  get evtchn() {
    return this.host.container.resolve(EventChannels);
  }
  u32(off: number): number {
    return this.mem.readU32(guestPhysAddr(BASE + off));
  }
  set(off: number, v: number): void {
    this.mem.writeU32(guestPhysAddr(BASE + off), v >>> 0);
  }
  /** Writes `bytes` at req_prod (wrapping), bumps it, notifies. */
  send(bytes: Uint8Array, notify = true): void {
    let prod = this.u32(XS_RING.reqProd);
    for (const b of bytes) {
      this.mem.write(guestPhysAddr(BASE + XS_RING.req + (prod & 1023)), new Uint8Array([b]));
      prod = (prod + 1) >>> 0;
    }
    this.set(XS_RING.reqProd, prod);
    if (notify) this.notify();
  }
  notify(): void {
    this.evtchn.notify(domId(this.domid), evtchnPort(this.port));
  }
  /** Reads everything between rsp_cons and rsp_prod and consumes it. */
  receive(): Uint8Array {
    const cons = this.u32(XS_RING.rspCons);
    const prod = this.u32(XS_RING.rspProd);
    const out: number[] = [];
    for (let i = cons; i !== prod; i = (i + 1) >>> 0) out.push(this.mem.read(guestPhysAddr(BASE + XS_RING.rsp + (i & 1023)), 1)[0]!);
    this.set(XS_RING.rspCons, prod);
    return new Uint8Array(out);
  }
  pending(): boolean {
    return this.evtchn.isPending(domId(this.domid), evtchnPort(this.port));
  }
}

async function setup(engine: { connect(c: XsConnection): XsSession } = new EchoEngine()): Promise<{ guest: SimGuest; ring: XsRingTransport }> {
  ({ host } = await bootTestHost({ guests: [{ name: 'a' }, { name: 'b' }] }));
  const guest = new SimGuest(host);
  const ring = new XsRingTransport({ domains: host.domains, evtchn: guest.evtchn, connect: (c) => engine.connect(c) });
  return { guest, ring };
}

describe('EventChannels.onEvent (in-process Dom0 listeners)', () => {
  it('fires on every notify of the peer, stops when removed or when the port closes', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }] }));
    const api = host.container.resolve(EventChannels);
    const g = api.allocUnbound(domId(1), domId(0));
    const local = api.bindInterdomain(domId(0), domId(1), g);
    let calls = 0;
    const off = api.onEvent(domId(0), local, () => calls++);
    api.notify(domId(1), g);
    api.notify(domId(1), g);
    expect(calls).toBe(2);
    off();
    api.notify(domId(1), g);
    expect(calls).toBe(2);
    api.onEvent(domId(0), local, () => calls++);
    api.close(domId(0), local);
    const again = api.bindInterdomain(domId(0), domId(1), g);
    expect(again).toBe(local);
    api.notify(domId(1), g);
    expect(calls).toBe(2);
    expect(() => api.onEvent(domId(0), evtchnPort(77), () => {})).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('XsRingTransport', () => {
  it('introduce sets server_features RECONNECTION|ERROR, binds Dom0 to the port; requests get replies in rsp[] and a notify', async () => {
    const engine = new EchoEngine();
    const { guest, ring } = await setup(engine);
    ring.introduce(1, GFN, guest.port);
    expect(guest.u32(XS_RING.serverFeatures)).toBe(3);
    expect(guest.evtchn.status(domId(1), evtchnPort(guest.port))).toMatchObject({ status: 'interdomain', remoteDom: 0 });
    expect(engine.conns[0]).toMatchObject({ domid: 1, label: 'dom1 ring' });
    const msg = encodeMessage(2, 5, 0, '/a\0');
    guest.send(msg);
    expect(guest.u32(XS_RING.reqCons)).toBe(msg.length);
    expect(guest.receive()).toEqual(msg);
    expect(guest.pending()).toBe(true);
    expect(ring.attached()).toEqual([1]);
    expect(ring.domainExists(1)).toBe(true);
    expect(ring.domainExists(9)).toBe(false);
  });

  it('serves requests already in the ring at introduce, and indexes that do not start at 0 (wrapping mod 1024)', async () => {
    const { guest, ring } = await setup();
    for (const off of [XS_RING.reqCons, XS_RING.reqProd, XS_RING.rspCons, XS_RING.rspProd]) guest.set(off, 0xffff_fff0);
    const msg = encodeMessage(11, 1, 0, 'x'.repeat(40));
    guest.send(msg, false);
    ring.introduce(1, GFN, guest.port);
    expect(guest.u32(XS_RING.reqCons)).toBe((0xffff_fff0 + msg.length) >>> 0);
    expect(guest.receive()).toEqual(msg);
  });

  it('holds output the guest has no room for until it consumes rsp[] and notifies', async () => {
    const { guest, ring } = await setup();
    ring.introduce(1, GFN, guest.port);
    const a = encodeMessage(2, 1, 0, 'y'.repeat(600));
    const b = encodeMessage(2, 2, 0, 'z'.repeat(600));
    guest.send(a);
    guest.send(b);
    expect(guest.u32(XS_RING.rspProd) - guest.u32(XS_RING.rspCons)).toBe(1024);
    const first = guest.receive();
    guest.notify();
    const rest = guest.receive();
    expect(new Uint8Array([...first, ...rest])).toEqual(new Uint8Array([...a, ...b]));
  });

  it('a guest that corrupts its indexes gets error RINGIDX and is no longer served; the other rings are not affected', async () => {
    const engine = new EchoEngine();
    const { guest, ring } = await setup(engine);
    ring.introduce(1, GFN, guest.port);
    const other = new SimGuest(host, 2);
    ring.introduce(2, GFN, other.port);
    guest.set(XS_RING.reqProd, guest.u32(XS_RING.reqCons) + 2000);
    guest.notify();
    expect(guest.u32(XS_RING.error)).toBe(2);
    expect(engine.closed).toBe(1);
    guest.set(XS_RING.reqProd, guest.u32(XS_RING.reqCons));
    guest.send(encodeMessage(2, 1, 0, ''));
    expect(guest.u32(XS_RING.rspProd)).toBe(0);
    const msg = encodeMessage(2, 1, 0, 'ok\0');
    other.send(msg);
    expect(other.receive()).toEqual(msg);
  });

  it('rsp indexes out of range are RINGIDX too; a payload over 4096 bytes is PROTO', async () => {
    const { guest, ring } = await setup();
    ring.introduce(1, GFN, guest.port);
    guest.set(XS_RING.rspCons, 5000);
    guest.notify();
    expect(guest.u32(XS_RING.error)).toBe(2);
    const other = new SimGuest(host, 2);
    ring.introduce(2, GFN, other.port);
    other.send(encodeMessage(11, 1, 0, new Uint8Array(0)).map((v, i) => (i === 13 ? 0x20 : v)));
    expect(other.u32(XS_RING.error)).toBe(3);
  });

  it('connection = RECONNECT: the session is dropped, the indexes zeroed, connection back to 0 and the guest notified', async () => {
    const engine = new EchoEngine();
    const { guest, ring } = await setup(engine);
    ring.introduce(1, GFN, guest.port);
    guest.send(encodeMessage(2, 1, 0, 'abc'));
    guest.set(XS_RING.connection, 1);
    guest.notify();
    expect(engine.closed).toBe(1);
    expect(engine.conns).toHaveLength(2);
    expect([XS_RING.reqCons, XS_RING.reqProd, XS_RING.rspCons, XS_RING.rspProd, XS_RING.connection].map((o) => guest.u32(o))).toEqual([0, 0, 0, 0, 0]);
    const msg = encodeMessage(2, 2, 0, 'again\0');
    guest.send(msg);
    expect(guest.receive()).toEqual(msg);
  });

  it('refuses an unknown domain (ENOENT), another ring for an introduced domain (EINVAL), an unmappable frame (EINVAL)', async () => {
    const { guest, ring } = await setup();
    expect(() => ring.introduce(9, GFN, 1)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => ring.introduce(1, 0x7fff_ffff, guest.port)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    ring.introduce(1, GFN, guest.port);
    expect(() => ring.introduce(1, GFN + 1, guest.port)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('release unbinds Dom0 (the guest port is unbound again) and ends the session; output after it is dropped', async () => {
    const engine = new EchoEngine();
    const { guest, ring } = await setup(engine);
    ring.introduce(1, GFN, guest.port);
    ring.release(1);
    expect(engine.closed).toBe(1);
    expect(ring.attached()).toEqual([]);
    expect(guest.evtchn.status(domId(1), evtchnPort(guest.port))).toMatchObject({ status: 'unbound', remoteDom: 0 });
    expect(guest.evtchn.portsInUse(domId(0))).toBe(0);
    engine.conns[0]!.write(encodeMessage(2, 1, 0, 'late'));
    expect(guest.u32(XS_RING.rspProd)).toBe(0);
  });

  it('a destroyed domain can be released afterwards without error', async () => {
    const { guest, ring } = await setup();
    ring.introduce(1, GFN, guest.port);
    host.domains.destroy(domId(1));
    expect(ring.domainExists(1)).toBe(false);
    expect(() => ring.release(1)).not.toThrow();
  });

  it('outstanding-request quota: an unprivileged guest with 20 replies not yet in rsp[] is not read until it drains rsp[]', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }] }));
    const guest = new SimGuest(host);
    const engine = new XenstoreEngine();
    engine.write('/v', 'x'.repeat(200));
    engine.setPerms('/v', ['r0']);
    let quota = 20;
    const ring = new XsRingTransport({ domains: host.domains, evtchn: guest.evtchn, connect: (c) => engine.connect(c), outstandingQuota: () => quota });
    ring.introduce(1, GFN, guest.port);
    const req = (id: number): Uint8Array => encodeMessage(XsType.READ, id, 0, '/v\0');
    const reqLen = req(0).length;
    const replyLen = 16 + 200;
    for (let i = 0; i < 40; i++) guest.send(req(i), false);
    guest.notify();
    // rsp[] holds 4 whole replies and part of the 5th: 20 outstanding after the 24th request.
    expect(ring.outstanding(1)).toBe(20);
    expect(guest.u32(XS_RING.reqCons)).toBe(24 * reqLen);
    guest.notify();
    expect(guest.u32(XS_RING.reqCons)).toBe(24 * reqLen);
    let got = new Uint8Array(0);
    const drain = (): void => {
      const b = guest.receive();
      const next = new Uint8Array(got.length + b.length);
      next.set(got);
      next.set(b, got.length);
      got = next;
      guest.notify();
    };
    drain();
    // 1024 more bytes of room: the rest of the 5th and 4 more whole replies; 5 more requests read.
    expect(guest.u32(XS_RING.reqCons)).toBe(29 * reqLen);
    expect(ring.outstanding(1)).toBe(20);
    for (let i = 0; i < 20 && got.length < 40 * replyLen; i++) drain();
    expect(got.length).toBe(40 * replyLen);
    expect(guest.u32(XS_RING.reqCons)).toBe(40 * reqLen);
    expect(ring.outstanding(1)).toBe(0);
    for (let i = 0; i < 40; i++) expect(decodeHeader(got, i * replyLen)).toMatchObject({ type: XsType.READ, reqId: i, len: 200 });
    // The quota is read when it is checked (CONTROL quota may change it).
    quota = 1000;
    for (let i = 0; i < 40; i++) guest.send(req(100 + i), false);
    guest.notify();
    expect(guest.u32(XS_RING.reqCons)).toBe(80 * reqLen);
  });

  it('Dom0\'s own ring is never throttled', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }] }));
    const engine = new XenstoreEngine();
    engine.write('/v', 'x'.repeat(200));
    const evtchn = host.container.resolve(EventChannels);
    const mem = host.domains.lookup(0).guestMemory;
    const port = evtchn.allocUnbound(domId(0), domId(0));
    const ring = new XsRingTransport({ domains: host.domains, evtchn, connect: (c) => engine.connect(c), outstandingQuota: () => 2 });
    const base = 0x100 * 4096;
    const msg = encodeMessage(XsType.READ, 1, 0, '/v\0');
    for (let i = 0; i < 40; i++) mem.write(guestPhysAddr(base + XS_RING.req + i * msg.length), msg);
    mem.writeU32(guestPhysAddr(base + XS_RING.reqProd), 40 * msg.length);
    ring.introduce(0, 0x100, port);
    expect(mem.readU32(guestPhysAddr(base + XS_RING.reqCons))).toBe(40 * msg.length);
    expect(ring.outstanding(0)).toBeGreaterThan(2);
  });
});

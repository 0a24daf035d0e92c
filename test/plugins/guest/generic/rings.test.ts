/** The kernel's ring clients on their own: xc's console ring and the xenstore client's framing, with free-running indexes that wrap past 2^32. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import { ByteArrayGuestAccess } from '../../../../core/testing/index.js';
import { XenconsInterface } from '../../../../core/public/index.js';
import { XenConsole } from '../../../../plugins/guest/generic/dev/xen/console/xc.js';
import type { EventWaiter } from '../../../../plugins/guest/generic/dev/xen/evtchn.js';
import { Xenstore, XenstoreError } from '../../../../plugins/guest/generic/dev/xen/xenstore/xenstore.js';
import { XenstoreDomainInterface as XS, XsType } from '../../../../plugins/guest/generic/dev/xen/xenstore/xs_wire.js';

const RING = 0x1000;

function vcpuWith(memory: ByteArrayGuestAccess): VcpuApi {
  return { memory, now: 0 } as unknown as VcpuApi;
}

/** Notifies are counted; `wait` runs `onWait` (the other end doing its work). */
function events(onWait: () => void = () => {}): EventWaiter & { notifies: number } {
  return {
    method: 'test',
    notifies: 0,
    consume: () => true,
    *wait(): Generator<VcpuRequest, void, unknown> {
      onWait();
    },
    notify() {
      this.notifies++;
    },
  };
}

/** Runs a generator that must not block for real. */
function drive<T>(g: Generator<VcpuRequest, T, unknown>): T {
  for (let r = g.next(); ; r = g.next()) if (r.done) return r.value;
}

describe('xc console ring', () => {
  it('delivers any output in order through wrapping indexes, however slowly the backend takes it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.array(fc.string({ maxLength: 700 }), { maxLength: 8 }), fc.integer({ min: 1, max: 3000 }), (start, writes, take) => {
        const mem = new ByteArrayGuestAccess(0x2000);
        mem.writeU32(RING + XenconsInterface.outCons, start);
        mem.writeU32(RING + XenconsInterface.outProd, start);
        const xc = new XenConsole(vcpuWith(mem), events(), { addr: RING, frame: 1, port: 3 });
        let received = '';
        const backend = (): void => {
          const cons = mem.readU32(RING + XenconsInterface.outCons);
          const n = Math.min(take, (mem.readU32(RING + XenconsInterface.outProd) - cons) >>> 0);
          expect(n).toBeLessThanOrEqual(2048);
          for (let i = 0; i < n; i++) received += String.fromCharCode(mem.readU8(RING + XenconsInterface.out + ((cons + i) & 2047)));
          mem.writeU32(RING + XenconsInterface.outCons, (cons + n) >>> 0);
        };
        for (const w of writes) {
          xc.write(w);
          backend();
        }
        while (xc.backlog > 0 || mem.readU32(RING + XenconsInterface.outProd) !== mem.readU32(RING + XenconsInterface.outCons)) {
          xc.flush();
          backend();
        }
        const expected = Buffer.from(writes.join('').replace(/\r?\n/g, '\r\n'), 'utf8').toString('latin1');
        expect(received).toBe(expected);
      }),
    );
  });

  it('reads input through wrapping indexes and notifies the backend that it consumed it', () => {
    const mem = new ByteArrayGuestAccess(0x2000);
    const ev = events();
    const start = 0xffff_fffe;
    mem.writeU32(RING + XenconsInterface.inCons, start);
    'abcd'.split('').forEach((c, i) => mem.writeU8(RING + XenconsInterface.in + ((start + i) & 1023), c.charCodeAt(0)));
    mem.writeU32(RING + XenconsInterface.inProd, (start + 4) >>> 0);
    const xc = new XenConsole(vcpuWith(mem), ev, { addr: RING, frame: 1, port: 3 });
    expect(Buffer.from(xc.read()).toString()).toBe('abcd');
    expect(mem.readU32(RING + XenconsInterface.inCons)).toBe(2);
    expect(xc.read().length).toBe(0);
    expect(ev.notifies).toBe(1);
  });
});

/** A xenstored stand-in on the ring: answers READ with `value:<path>`, ENOENT for "missing", and a watch event after each WATCH. */
class FakeServer {
  requests: { type: number; reqId: number; payload: string }[] = [];
  private rx: number[] = [];

  constructor(private readonly mem: ByteArrayGuestAccess) {}

  step(): void {
    let cons = this.mem.readU32(RING + XS.reqCons);
    const prod = this.mem.readU32(RING + XS.reqProd);
    while (cons !== prod) {
      this.rx.push(this.mem.readU8(RING + XS.req + (cons & 1023)));
      cons = (cons + 1) >>> 0;
    }
    this.mem.writeU32(RING + XS.reqCons, cons);
    while (this.rx.length >= 16) {
      const head = Buffer.from(this.rx.slice(0, 16));
      const len = head.readUInt32LE(12);
      if (this.rx.length < 16 + len) break;
      const type = head.readUInt32LE(0);
      const reqId = head.readUInt32LE(4);
      const payload = Buffer.from(this.rx.slice(16, 16 + len)).toString('latin1');
      this.rx.splice(0, 16 + len);
      this.requests.push({ type, reqId, payload });
      const path = payload.split('\0')[0]!;
      if (type === XsType.READ && path === 'missing') this.reply(XsType.ERROR, reqId, 'ENOENT\0');
      else if (type === XsType.READ) this.reply(type, reqId, `value:${path}`);
      else if (type === XsType.DIRECTORY) this.reply(type, reqId, 'a\0b\0');
      else {
        this.reply(type, reqId, 'OK\0');
        if (type === XsType.WATCH) this.reply(XsType.WATCH_EVENT, 0, payload);
      }
    }
  }

  private reply(type: number, reqId: number, payload: string): void {
    const body = Buffer.from(payload, 'latin1');
    const msg = Buffer.alloc(16 + body.length);
    msg.writeUInt32LE(type, 0);
    msg.writeUInt32LE(reqId, 4);
    msg.writeUInt32LE(body.length, 12);
    body.copy(msg, 16);
    let prod = this.mem.readU32(RING + XS.rspProd);
    for (const b of msg) {
      this.mem.writeU8(RING + XS.rsp + (prod & 1023), b);
      prod = (prod + 1) >>> 0;
    }
    this.mem.writeU32(RING + XS.rspProd, prod);
  }
}

describe('xenstore client', () => {
  function setup(start: number) {
    const mem = new ByteArrayGuestAccess(0x2000);
    for (const off of [XS.reqCons, XS.reqProd, XS.rspCons, XS.rspProd]) mem.writeU32(RING + off, start);
    const server = new FakeServer(mem);
    const xs = new Xenstore(vcpuWith(mem), events(() => server.step()), { addr: RING, frame: 1, port: 1 });
    return { xs, server };
  }

  it('frames READ, WRITE, DIRECTORY and WATCH with increasing request ids across wrapping indexes; queues watch events apart', () => {
    const { xs, server } = setup(0xffff_ffd0);
    expect(drive(xs.read('control/shutdown'))).toBe('value:control/shutdown');
    drive(xs.write('control/feature-poweroff', '1'));
    expect(drive(xs.directory('device'))).toEqual(['a', 'b']);
    drive(xs.watch('control/shutdown', 'xctrl0:control/shutdown'));
    expect(server.requests.map((r) => [r.type, r.reqId, r.payload])).toEqual([
      [XsType.READ, 1, 'control/shutdown\0'],
      [XsType.WRITE, 2, 'control/feature-poweroff\x001'],
      [XsType.DIRECTORY, 3, 'device\0'],
      [XsType.WATCH, 4, 'control/shutdown\0xctrl0:control/shutdown\0'],
    ]);
    expect(xs.pendingWatchEvents).toBe(1);
    expect(xs.nextWatchEvent()).toEqual({ path: 'control/shutdown', token: 'xctrl0:control/shutdown' });
  });

  it('reads an absent node as undefined and turns other ERROR replies into XenstoreError', () => {
    const { xs } = setup(0);
    expect(drive(xs.read('missing'))).toBeUndefined();
    const err = new XenstoreError('WRITE', 'x', 'EACCES');
    expect(err.message).toBe('xenstore WRITE x: EACCES');
  });

  it('sends a request larger than the free room in pieces as the server makes room', () => {
    const { xs, server } = setup(0x7fff_ff00);
    const value = 'v'.repeat(3000);
    drive(xs.write('data/big', value));
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.payload).toBe(`data/big\0${value}`);
  });
});

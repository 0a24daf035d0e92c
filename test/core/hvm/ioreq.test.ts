import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { runOnVcpu } from '../../hypervisor/harness.js';
import { IOREQ_FLAG_DIR_READ, IOREQ_FLAG_STATE_MASK, IOREQ_STATE, IOREQ_TYPE, Ioreq } from '../../../core/public/ioreq.js';
import { GuestError } from '../../../core/api/errors.js';
import { bootHvmHost, ioreqServers, platforms, vcpuOf } from './helpers.js';

const HVM = 1;
let host: Host | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
});

interface Seen {
  vcpu: number;
  at: number;
  addr: bigint;
  data: bigint;
  count: number;
  size: number;
  state: number;
  read: boolean;
  type: number;
}

describe('ioreq servers: accesses forwarded to a device model', () => {
  it('a port write and a port read reach the listener as ioreq_t bytes at Xen offsets; the vCPU resumes with the answer', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const h = host;
    const server = ioreqServers(h).create(HVM);
    server.mapRange('pio', 0x3f8, 0x3ff);
    const seen: Seen[] = [];
    server.onRequest((vcpu) => {
      const view = new DataView(server.page.buffer, server.page.byteOffset + vcpu * 32, 32);
      const flags = view.getUint8(Ioreq.flags);
      const s: Seen = {
        vcpu,
        at: h.engine.now,
        addr: view.getBigUint64(Ioreq.addr, true),
        data: view.getBigUint64(Ioreq.data, true),
        count: view.getUint32(Ioreq.count, true),
        size: view.getUint32(Ioreq.size, true),
        state: flags & IOREQ_FLAG_STATE_MASK,
        read: (flags & IOREQ_FLAG_DIR_READ) !== 0,
        type: view.getUint8(Ioreq.type),
      };
      seen.push(s);
      // Answer 1 ms later, as a device model scheduled in Dom0 would.
      h.engine.after(1_000_000, () => {
        if (s.read) view.setBigUint64(Ioreq.data, 0x60n, true);
        view.setUint8(Ioreq.flags, (flags & ~IOREQ_FLAG_STATE_MASK) | IOREQ_STATE.respReady);
        server.complete(vcpu);
      });
    });
    const out = runOnVcpu(h, HVM, 0, function* (v) {
      const t0 = v.now;
      yield* v.outPort(0x3f8, 1, 0x41);
      const t1 = v.now;
      const lsr = yield* v.inPort(0x3fd, 1);
      return { t0, t1, lsr, t2: v.now };
    });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ vcpu: 0, addr: 0x3f8n, data: 0x41n, count: 1, size: 1, state: IOREQ_STATE.ready, read: false, type: IOREQ_TYPE.pio });
    expect(seen[1]).toMatchObject({ addr: 0x3fdn, data: 0n, size: 1, read: true, type: IOREQ_TYPE.pio });
    expect(out.lsr).toBe(0x60);
    expect(out.t1 - out.t0).toBeGreaterThanOrEqual(1_000_000);
    expect(out.t2 - out.t1).toBeGreaterThanOrEqual(1_000_000);
    // The slot is back to STATE_IOREQ_NONE.
    expect(server.page[Ioreq.flags]! & IOREQ_FLAG_STATE_MASK).toBe(IOREQ_STATE.none);
    const exits = platforms(h).exits(HVM);
    expect(exits.forwarded).toBe(2);
    expect(exits.byReason.io).toBe(2);
  });

  it('an MMIO read is an ioreq of type copy; events do not end the wait, only complete() does', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const h = host;
    const server = ioreqServers(h).create(HVM);
    server.mapRange('mmio', 0xf000_0000, 0xf000_0fff);
    let type = -1;
    server.onRequest((vcpu) => {
      type = server.page[vcpu * 32 + Ioreq.type]!;
      h.engine.after(500_000, () => vcpuOf(h, HVM).kick()); // an event arrives meanwhile
      h.engine.after(3_000_000, () => {
        new DataView(server.page.buffer).setBigUint64(vcpu * 32 + Ioreq.data, 0x1234_5678_9abcn, true);
        server.complete(vcpu);
      });
    });
    const out = runOnVcpu(h, HVM, 0, function* (v) {
      const t0 = v.now;
      const value = yield* v.mmioRead(0xf000_0010, 4);
      return { value, waited: v.now - t0 };
    });
    expect(type).toBe(IOREQ_TYPE.copy);
    expect(out.value).toBe(0x5678_9abc); // masked to the access size
    expect(out.waited).toBeGreaterThanOrEqual(3_000_000);
  });

  it('destroy() completes a waiting vCPU with all ones; the server claims nothing afterwards', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const h = host;
    const server = ioreqServers(h).create(HVM);
    server.mapRange('pio', 0x70, 0x71);
    server.onRequest(() => h.engine.after(1_000_000, () => server.destroy()));
    const out = runOnVcpu(h, HVM, 0, function* (v) {
      const first = yield* v.inPort(0x71, 2);
      const second = yield* v.inPort(0x71, 1);
      return { first, second };
    });
    expect(out).toEqual({ first: 0xffff, second: 0xff });
    expect(ioreqServers(h).serversOf(HVM)).toHaveLength(0);
    expect(platforms(h).exits(HVM).wild).toBe(1);
    server.destroy();
  });

  it('refuses what Xen refuses: overlapping ranges, completing nothing, servers for PV and PVH guests', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }, { name: 'pvh', type: 'pvh' }, { name: 'pv', type: 'pv' }]));
    const servers = ioreqServers(host);
    const a = servers.create(HVM);
    const b = servers.create(HVM);
    a.mapRange('pio', 0x3f8, 0x3ff);
    expect(() => b.mapRange('pio', 0x3fc, 0x400)).toThrow(/EEXIST|overlaps/);
    b.mapRange('mmio', 0x3fc, 0x400); // another space
    expect(() => a.complete(0)).toThrow(GuestError);
    expect(() => a.unmapRange('pio', 0x100, 0x101)).toThrow(/not mapped/);
    a.unmapRange('pio', 0x3fa, 0x3fb);
    expect(() => b.mapRange('pio', 0x3fa, 0x3fb)).not.toThrow();
    expect(() => servers.create(2)).toThrow(/PVH/);
    expect(() => servers.create(3)).toThrow(/PV/);
    expect(() => servers.create(42)).toThrow(GuestError);
    expect(servers.serversOf(HVM).map((s) => s.id)).toEqual([a.id, b.id]);
  });

  it('the server exposes guest memory by guest-physical address (DMA)', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const server = ioreqServers(host).create(HVM);
    server.guestMemory.writeU32(0x8000, 0xcafef00d);
    expect(vcpuOf(host, HVM).guest.readU32(0x8000)).toBe(0xcafef00d);
  });
});

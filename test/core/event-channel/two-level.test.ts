import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { DOMID_SELF, Hypercall, EVTCHNOP, PAGE_SIZE, SharedInfo, VcpuInfo } from '../../../core/public/index.js';
import { P2mType } from '../../../core/api/memory.js';
import { domId, evtchnPort, guestFrame } from '../../../core/public/types.js';
import { vcpuOf } from '../../hypervisor/harness.js';
import {
  ackUpcall,
  allocUnbound,
  bindInterdomain,
  bindIpi,
  bootHost,
  clearPending,
  evtchnApi,
  maskWord,
  pendingSel,
  pendingWord,
  send,
  setMask,
  unmask,
  upcallPending,
  vcpuInfoOf,
} from './helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

/** A connected pair: dom1's `lport` ↔ dom2's `rport`, with the bind's own pending bit and upcall cleared. */
function pair(h: Host): { lport: number; rport: number } {
  const rport = allocUnbound(h, 2, DOMID_SELF, 1);
  const lport = bindInterdomain(h, 1, 2, rport);
  clearPending(h, 1, lport);
  ackUpcall(h, 1, 0);
  return { lport, rport };
}

describe('2-level delivery into the shared-info page', () => {
  it('sets bit p of evtchn_pending, bit p/64 of the vCPU pending_sel and upcall_pending, exactly as Xen', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    // Fill dom2 up to port 130 so the channel lands in word 2.
    for (let i = 0; i < 129; i++) allocUnbound(host, 2, DOMID_SELF, 0);
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    expect(rport).toBe(130);
    const lport = bindInterdomain(host, 1, 2, rport);
    expect(send(host, 1, lport)).toBe(0);
    expect(pendingWord(host, 2, 2)).toBe(1n << 2n);
    for (const w of [0, 1, 3, 63]) expect(pendingWord(host, 2, w)).toBe(0n);
    expect(pendingSel(host, 2, 0)).toBe(1n << 2n);
    expect(upcallPending(host, 2, 0)).toBe(1);
    // Nothing else of the page moved: the mask bitmap is the guest's.
    for (let w = 0; w < 64; w++) expect(maskWord(host, 2, w)).toBe(0n);
  });

  it('is what a guest that mapped its shared-info page (as XENMEM_add_to_physmap does) reads', async () => {
    host = await bootHost([{ name: 'a', type: 'pvh' }, { name: 'b', type: 'pvh' }]);
    const { lport, rport } = pair(host);
    const gfn = 0xfeff0;
    host.p2mOf(2)!.set(guestFrame(gfn), host.sharedInfoOf(2)!.mfn, P2mType.ram_rw);
    send(host, 1, lport);
    const g = vcpuOf(host, 2).guest;
    const base = gfn * PAGE_SIZE;
    expect(g.readU64Big(base + SharedInfo.evtchnPending)).toBe(1n << BigInt(rport));
    expect(g.readU8(base + VcpuInfo.evtchnUpcallPending)).toBe(1);
    expect(g.readU64Big(base + VcpuInfo.evtchnPendingSel)).toBe(1n);
    // And what the guest writes (its mask) is what Xen honours.
    g.writeU64Big(base + SharedInfo.evtchnPending, 0n);
    g.writeU8(base + VcpuInfo.evtchnUpcallPending, 0);
    g.writeU64Big(base + VcpuInfo.evtchnPendingSel, 0n);
    g.writeU64Big(base + SharedInfo.evtchnMask, 1n << BigInt(rport));
    send(host, 1, lport);
    expect(g.readU64Big(base + SharedInfo.evtchnPending)).toBe(1n << BigInt(rport));
    expect(g.readU64Big(base + VcpuInfo.evtchnPendingSel)).toBe(0n);
    expect(g.readU8(base + VcpuInfo.evtchnUpcallPending)).toBe(0);
  });

  it('does nothing more when the port is already pending (the guest has not acknowledged it)', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    const { lport, rport } = pair(host);
    send(host, 1, lport);
    ackUpcall(host, 2, 0);
    send(host, 1, lport);
    expect(pendingWord(host, 2, 0)).toBe(1n << BigInt(rport));
    expect(pendingSel(host, 2, 0)).toBe(0n);
    expect(upcallPending(host, 2, 0)).toBe(0);
  });

  it('sets only the pending bit of a masked port; EVTCHNOP_unmask then delivers it', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    const { lport, rport } = pair(host);
    setMask(host, 2, rport, true);
    send(host, 1, lport);
    expect(pendingWord(host, 2, 0)).toBe(1n << BigInt(rport));
    expect(pendingSel(host, 2, 0)).toBe(0n);
    expect(upcallPending(host, 2, 0)).toBe(0);
    expect(unmask(host, 2, rport)).toBe(0);
    expect(maskWord(host, 2, 0)).toBe(0n);
    expect(pendingSel(host, 2, 0)).toBe(1n);
    expect(upcallPending(host, 2, 0)).toBe(1);
  });

  it('leaves upcall_pending alone when the selector bit was already set', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    const { lport } = pair(host);
    const ipi = bindIpi(host, 2, 0);
    send(host, 2, ipi);
    vcpuInfoOf(host, 2, 0).setUint8(VcpuInfo.evtchnUpcallPending, 0);
    send(host, 1, lport);
    expect(pendingSel(host, 2, 0)).toBe(1n);
    expect(upcallPending(host, 2, 0)).toBe(0);
  });

  it('follows a vcpu_info the guest registered elsewhere (VCPUOP_register_vcpu_info)', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    const { lport } = pair(host);
    const page = new Uint8Array(PAGE_SIZE);
    host.sharedInfoOf(2)!.registerVcpuInfo(0, page, 128);
    send(host, 1, lport);
    expect(page[128 + VcpuInfo.evtchnUpcallPending]).toBe(1);
    expect(page[128 + VcpuInfo.evtchnPendingSel]).toBe(1);
    expect(host.sharedInfoOf(2)!.bytes[VcpuInfo.evtchnPendingSel]).toBe(0);
  });

  it('isPending reads the pending bit (SCHEDOP_poll), false for a port out of range', async () => {
    host = await bootHost();
    const { lport, rport } = pair(host);
    const api = evtchnApi(host);
    expect(api.isPending(domId(2), evtchnPort(rport))).toBe(false);
    send(host, 1, lport);
    expect(api.isPending(domId(2), evtchnPort(rport))).toBe(true);
    expect(api.isPending(domId(2), evtchnPort(5000))).toBe(false);
  });
});

describe('waking vCPUs', () => {
  it('wakes a PV vCPU blocked in SCHEDOP_block when an event arrives (kick + pending check)', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    const { lport } = pair(host);
    const woke: string[] = [];
    vcpuOf(host, 2).setProgram(function* (v) {
      const why = yield v.block();
      woke.push(`${why}@${v.now}`);
      yield v.block();
    });
    host.runFor(5e6);
    expect(woke).toEqual([]);
    send(host, 1, lport);
    host.runFor(1e6);
    expect(woke).toHaveLength(1);
    expect(woke[0]).toMatch(/^event@/);
  });

  it('makes SCHEDOP_block return at once while upcall_pending is set and upcall_mask clear, not while masked', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    const { lport } = pair(host);
    send(host, 1, lport);
    const v2 = vcpuOf(host, 2);
    expect(v2.takePendingEvent()).toBe(true);
    vcpuInfoOf(host, 2, 0).setUint8(VcpuInfo.evtchnUpcallMask, 1);
    expect(v2.takePendingEvent()).toBe(false);
  });

  it('kicks a vCPU polling a port when that port becomes pending, even masked (evtchn_check_pollers)', async () => {
    host = await bootHost([{ name: 'a', type: 'pv' }, { name: 'b', type: 'pv' }]);
    const { lport, rport } = pair(host);
    setMask(host, 2, rport, true);
    const api = evtchnApi(host);
    const woke: string[] = [];
    vcpuOf(host, 2).setProgram(function* (v) {
      api.pollPorts(domId(2), 0, [evtchnPort(rport)]);
      woke.push(String(yield v.poll()));
      yield v.block();
    });
    host.runFor(2e6);
    expect(woke).toEqual([]);
    send(host, 1, lport);
    host.runFor(1e6);
    expect(woke).toEqual(['event']);
  });
});

describe('the hypercall from guest code', () => {
  it('works from a running program with the op struct in its memory', async () => {
    host = await bootHost();
    const { lport, rport } = pair(host);
    const { runOnVcpu } = await import('../../hypervisor/harness.js');
    vcpuOf(host, 1).guest.writeU32(0x3000, lport);
    const rc = runOnVcpu(host, 1, 0, function* (v) {
      return v.hypercall(Hypercall.event_channel_op, EVTCHNOP.send, 0x3000);
    });
    expect(rc).toBe(0);
    expect(pendingWord(host, 2, 0)).toBe(1n << BigInt(rport));
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import {
  DOMID_SELF,
  EVTCHNOP,
  EVTCHN_FIFO_NR_CHANNELS,
  EvtchnExpandArray,
  EvtchnFifoControlBlock,
  EvtchnInitControl,
  EvtchnSetPriority,
  Hypercall,
  PAGE_SIZE,
  XenErrno,
} from '../../../core/public/index.js';
import { domId, evtchnPort } from '../../../core/public/types.js';
import { runOnVcpu, vcpuOf } from '../../hypervisor/harness.js';
import { ackUpcall, allocUnbound, bindInterdomain, bootHost, close, evtchnApi, evtchnOp, reset, send, status, unmask, upcallPending } from './helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

const PENDING = 0x8000_0000;
const MASKED = 0x4000_0000;
const LINKED = 0x2000_0000;
const LINK_MASK = 0x1ffff;
/** Where the guest keeps its FIFO structures (gfns of a 16 MiB PVH guest). */
const CONTROL_GFN = 0x100;
const ARRAY_GFN = 0x200;

function op(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

function initControl(h: Host, dom: number, vcpu: number, gfn: number, offset = 0): { rc: number; linkBits: number } {
  const { rc, out } = evtchnOp(h, dom, EVTCHNOP.init_control, op(EvtchnInitControl.size, (v) => {
    v.setBigUint64(EvtchnInitControl.controlGfn, BigInt(gfn), true);
    v.setUint32(EvtchnInitControl.offset, offset, true);
    v.setUint32(EvtchnInitControl.vcpu, vcpu, true);
  }));
  return { rc, linkBits: out.getUint8(EvtchnInitControl.linkBits) };
}

function expandArray(h: Host, dom: number, gfn: number): number {
  return evtchnOp(h, dom, EVTCHNOP.expand_array, op(EvtchnExpandArray.size, (v) => v.setBigUint64(EvtchnExpandArray.arrayGfn, BigInt(gfn), true))).rc;
}

function setPriority(h: Host, dom: number, port: number, priority: number): number {
  return evtchnOp(h, dom, EVTCHNOP.set_priority, op(EvtchnSetPriority.size, (v) => {
    v.setUint32(EvtchnSetPriority.port, port, true);
    v.setUint32(EvtchnSetPriority.priority, priority, true);
  })).rc;
}

/** What the guest reads in its own memory: event words (array pages at ARRAY_GFN + i) and its control block. */
function word(h: Host, dom: number, port: number): number {
  return vcpuOf(h, dom).guest.readU32((ARRAY_GFN + (port >> 10)) * PAGE_SIZE + 4 * (port & 1023));
}
function setWord(h: Host, dom: number, port: number, value: number): void {
  vcpuOf(h, dom).guest.writeU32((ARRAY_GFN + (port >> 10)) * PAGE_SIZE + 4 * (port & 1023), value >>> 0);
}
function ready(h: Host, dom: number, gfn = CONTROL_GFN, offset = 0): number {
  return vcpuOf(h, dom).guest.readU32(gfn * PAGE_SIZE + offset + EvtchnFifoControlBlock.ready);
}
function head(h: Host, dom: number, q: number, gfn = CONTROL_GFN, offset = 0): number {
  return vcpuOf(h, dom).guest.readU32(gfn * PAGE_SIZE + offset + EvtchnFifoControlBlock.head + 4 * q);
}

/** Dom2 switches to FIFO with `pages` event-array pages; returns nothing, fails the test on error. */
function fifoGuest(h: Host, dom: number, pages: number): void {
  expect(initControl(h, dom, 0, CONTROL_GFN)).toEqual({ rc: 0, linkBits: 17 });
  for (let i = 0; i < pages; i++) expect(expandArray(h, dom, ARRAY_GFN + i)).toBe(0);
}

/** dom1's port → dom2's port. */
function channel(h: Host): { lport: number; rport: number } {
  const rport = allocUnbound(h, 2, DOMID_SELF, 1);
  const lport = bindInterdomain(h, 1, 2, rport);
  return { lport, rport };
}

describe('EVTCHNOP_init_control', () => {
  it('maps the control block, returns link_bits 17 and switches the domain to FIFO (2^17 ports)', async () => {
    host = await bootHost();
    expect(initControl(host, 2, 0, CONTROL_GFN, 64)).toEqual({ rc: 0, linkBits: 17 });
    expect(host.hypervisorSubsystems.find((s) => s.name === 'event-channel')!.dump!()).toMatch(/dom2 \(FIFO, 0 event-array page/);
    // A 2-level domain answers set_priority with ENOSYS; a FIFO one takes it.
    const p = allocUnbound(host, 2, DOMID_SELF, 1);
    expect(setPriority(host, 2, p, 3)).toBe(0);
    expect(setPriority(host, 1, allocUnbound(host, 1, DOMID_SELF, 2), 3)).toBe(-XenErrno.ENOSYS);
  });

  it('refuses a missing vCPU (ENOENT), an offset crossing the page or not 8-aligned, a frame that is not its RAM, a second block (EINVAL)', async () => {
    host = await bootHost();
    expect(initControl(host, 2, 1, CONTROL_GFN).rc).toBe(-XenErrno.ENOENT);
    expect(initControl(host, 2, 0, CONTROL_GFN, PAGE_SIZE - EvtchnFifoControlBlock.size + 8).rc).toBe(-XenErrno.EINVAL);
    expect(initControl(host, 2, 0, CONTROL_GFN, 12).rc).toBe(-XenErrno.EINVAL);
    expect(initControl(host, 2, 0, 0xfffff).rc).toBe(-XenErrno.EINVAL);
    expect(initControl(host, 2, 0, 2 ** 60).rc).toBe(-XenErrno.EINVAL);
    // Nothing switched: still 2-level.
    expect(expandArray(host, 2, ARRAY_GFN)).toBe(-XenErrno.EOPNOTSUPP);
    expect(initControl(host, 2, 0, CONTROL_GFN, PAGE_SIZE - EvtchnFifoControlBlock.size).rc).toBe(0);
    expect(initControl(host, 2, 0, CONTROL_GFN + 1).rc).toBe(-XenErrno.EINVAL);
  });

  it('keeps open ports working and carries their 2-level pending bits over, raised once an array page covers them', async () => {
    host = await bootHost([{ name: 'a' }, { name: 'b' }]);
    const { lport, rport } = channel(host);
    send(host, 1, lport);
    expect(evtchnApi(host).isPending(domId(2), evtchnPort(rport))).toBe(true);
    ackUpcall(host, 2, 0);
    expect(initControl(host, 2, 0, CONTROL_GFN).rc).toBe(0);
    // No event word covers the port yet: not visibly pending, nothing linked.
    expect(evtchnApi(host).isPending(domId(2), evtchnPort(rport))).toBe(false);
    expect(expandArray(host, 2, ARRAY_GFN)).toBe(0);
    expect(word(host, 2, rport)).toBe((PENDING | LINKED) >>> 0);
    expect(head(host, 2, 7)).toBe(rport);
    expect(ready(host, 2)).toBe(1 << 7);
    expect(upcallPending(host, 2, 0)).toBe(1);
    expect(status(host, 2, DOMID_SELF, rport)).toMatchObject({ rc: 0, u16: 1 });
  });
});

describe('FIFO delivery into guest memory', () => {
  it('sets PENDING, links into the vCPU queue of the port priority, sets READY and raises the upcall, as Xen', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 1);
    const a = channel(host);
    const b = channel(host);
    // The binds raised dom1's ports, not dom2's; dom2's words are untouched.
    expect(word(host, 2, a.rport)).toBe(0);
    expect(send(host, 1, a.lport)).toBe(0);
    expect(word(host, 2, a.rport)).toBe((PENDING | LINKED) >>> 0);
    expect(head(host, 2, 7)).toBe(a.rport);
    expect(ready(host, 2)).toBe(1 << 7);
    expect(upcallPending(host, 2, 0)).toBe(1);
    ackUpcall(host, 2, 0);
    // A second event joins the tail: the first word links to it; the queue was not empty, so no READY/upcall.
    send(host, 1, b.lport);
    expect(word(host, 2, a.rport)).toBe((PENDING | LINKED | b.rport) >>> 0);
    expect(word(host, 2, b.rport)).toBe((PENDING | LINKED) >>> 0);
    expect(head(host, 2, 7)).toBe(a.rport);
    expect(upcallPending(host, 2, 0)).toBe(0);
    // Already pending and linked: nothing more.
    send(host, 1, a.lport);
    expect(word(host, 2, a.rport)).toBe((PENDING | LINKED | b.rport) >>> 0);
  });

  it('only sets PENDING on a MASKED port; EVTCHNOP_unmask then links it and raises the upcall', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 1);
    const { lport, rport } = channel(host);
    setWord(host, 2, rport, MASKED);
    send(host, 1, lport);
    expect(word(host, 2, rport)).toBe((PENDING | MASKED) >>> 0);
    expect(ready(host, 2)).toBe(0);
    expect(upcallPending(host, 2, 0)).toBe(0);
    expect(evtchnApi(host).isPending(domId(2), evtchnPort(rport))).toBe(true);
    expect(unmask(host, 2, rport)).toBe(0);
    expect(word(host, 2, rport)).toBe((PENDING | LINKED) >>> 0);
    expect(head(host, 2, 7)).toBe(rport);
    expect(ready(host, 2)).toBe(1 << 7);
    expect(upcallPending(host, 2, 0)).toBe(1);
  });

  it('queues by priority: EVTCHNOP_set_priority moves the port next event to that queue (EINVAL for 16 or a bad port)', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 1);
    const { lport, rport } = channel(host);
    expect(setPriority(host, 2, rport, 3)).toBe(0);
    expect(setPriority(host, 2, rport, 16)).toBe(-XenErrno.EINVAL);
    expect(setPriority(host, 2, 5000, 3)).toBe(-XenErrno.EINVAL);
    send(host, 1, lport);
    expect(head(host, 2, 3)).toBe(rport);
    expect(head(host, 2, 7)).toBe(0);
    expect(ready(host, 2)).toBe(1 << 3);
  });

  it('holds events for ports past the array until EVTCHNOP_expand_array adds their page; ports above 4095 work', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 1);
    const api = evtchnApi(host);
    api.setMaxPorts(domId(2), EVTCHN_FIFO_NR_CHANNELS - 1);
    let rport = 0;
    for (let i = 0; i < 5000; i++) rport = allocUnbound(host, 2, DOMID_SELF, 1);
    expect(rport).toBe(5000);
    const lport = bindInterdomain(host, 1, 2, rport);
    send(host, 1, lport);
    expect(api.isPending(domId(2), evtchnPort(rport))).toBe(false);
    expect(ready(host, 2)).toBe(0);
    for (let i = 1; i < 4; i++) expect(expandArray(host, 2, ARRAY_GFN + i)).toBe(0);
    expect(api.isPending(domId(2), evtchnPort(rport))).toBe(false);
    expect(word(host, 2, rport)).toBe(0);
    expect(expandArray(host, 2, ARRAY_GFN + 4)).toBe(0);
    expect(word(host, 2, rport)).toBe((PENDING | LINKED) >>> 0);
    expect(head(host, 2, 7)).toBe(rport);
    expect(api.isPending(domId(2), evtchnPort(rport))).toBe(true);
    expect(api.status(domId(2), evtchnPort(rport))).toEqual({ status: 'interdomain', vcpu: 0, remoteDom: 1, remotePort: lport });
  });

  it('stops expand_array at 128 pages (ENOSPC) and refuses a frame that is not the domain RAM (EINVAL)', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 0);
    expect(expandArray(host, 2, 0xfffff)).toBe(-XenErrno.EINVAL);
    for (let i = 0; i < 128; i++) expect(expandArray(host, 2, ARRAY_GFN + i)).toBe(0);
    expect(expandArray(host, 2, ARRAY_GFN)).toBe(-XenErrno.ENOSPC);
  });

  it('does not hand out a closed port while its event is still LINKED on a queue (Xen evtchn_is_busy)', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 1);
    const { lport, rport } = channel(host);
    send(host, 1, lport);
    expect(close(host, 2, rport)).toBe(0);
    expect(word(host, 2, rport)).toBe(LINKED);
    expect(allocUnbound(host, 2, DOMID_SELF, 1)).not.toBe(rport);
    setWord(host, 2, rport, 0);
    expect(allocUnbound(host, 2, DOMID_SELF, 1)).toBe(rport);
  });

  it('goes back to 2-level on EVTCHNOP_reset', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 1);
    channel(host);
    expect(reset(host, 2, DOMID_SELF)).toBe(0);
    expect(evtchnApi(host).portsInUse(domId(2))).toBe(0);
    expect(setPriority(host, 2, 1, 3)).toBe(-XenErrno.ENOSYS);
    expect(expandArray(host, 2, ARRAY_GFN)).toBe(-XenErrno.EOPNOTSUPP);
    expect(initControl(host, 2, 0, CONTROL_GFN).rc).toBe(0);
  });
});

describe('a guest kernel on the FIFO ABI', () => {
  it('sets up from its vCPU, consumes its queue as Linux does, and gets READY and an upcall again for the next event', async () => {
    host = await bootHost([{ name: 'a' }, { name: 'b', vcpus: 2 }]);
    const ctrl = CONTROL_GFN * PAGE_SIZE;
    const array = ARRAY_GFN * PAGE_SIZE;
    const OP = 0x20000;
    // vCPU 1's control block shares the frame at offset 72 (8-aligned).
    const rc = runOnVcpu(host, 2, 0, function* (v) {
      const results: number[] = [];
      for (let i = 0; i < 1024; i++) v.memory.writeU32(array + 4 * i, MASKED);
      for (const [vcpu, offset] of [[0, 0], [1, 72]] as const) {
        v.memory.writeU64Big(OP + EvtchnInitControl.controlGfn, BigInt(CONTROL_GFN));
        v.memory.writeU32(OP + EvtchnInitControl.offset, offset);
        v.memory.writeU32(OP + EvtchnInitControl.vcpu, vcpu);
        results.push(v.hypercall(Hypercall.event_channel_op, EVTCHNOP.init_control, OP));
      }
      v.memory.writeU64Big(OP, BigInt(ARRAY_GFN));
      results.push(v.hypercall(Hypercall.event_channel_op, EVTCHNOP.expand_array, OP));
      return results;
      yield v.block();
    });
    expect(rc).toEqual([0, 0, 0]);
    const a = channel(host);
    const b = channel(host);
    for (const p of [a.rport, b.rport]) expect(unmask(host, 2, p)).toBe(0);
    // b goes to vCPU 1.
    const api = evtchnApi(host);
    const { bindVcpu } = await import('./helpers.js');
    expect(bindVcpu(host, 2, b.rport, 1)).toBe(0);
    send(host, 1, a.lport);
    send(host, 1, b.lport);
    expect(head(host, 2, 7)).toBe(a.rport);
    expect(head(host, 2, 7, CONTROL_GFN, 72)).toBe(b.rport);
    expect(ready(host, 2, CONTROL_GFN, 72)).toBe(1 << 7);
    // Linux's consume_one_event on vCPU 0: take the head, clear READY when the queue empties, clear LINKED and PENDING.
    const seen = runOnVcpu(host, 2, 0, function* (v) {
      const ports: number[] = [];
      v.memory.writeU32(ctrl + EvtchnFifoControlBlock.ready, 0);
      let port = v.memory.readU32(ctrl + EvtchnFifoControlBlock.head + 4 * 7);
      v.memory.writeU32(ctrl + EvtchnFifoControlBlock.head + 4 * 7, 0);
      while (port !== 0) {
        const w = v.memory.readU32(array + 4 * port);
        ports.push(port);
        v.memory.writeU32(array + 4 * port, w & ~(LINKED | PENDING | LINK_MASK));
        port = w & LINK_MASK;
      }
      return ports;
      yield v.block();
    });
    expect(seen).toEqual([a.rport]);
    ackUpcall(host, 2, 0);
    // The queue is empty (its tail unlinked): the next event starts it again, with READY and an upcall.
    send(host, 1, a.lport);
    expect(head(host, 2, 7)).toBe(a.rport);
    expect(ready(host, 2)).toBe(1 << 7);
    expect(upcallPending(host, 2, 0)).toBe(1);
    expect(api.isPending(domId(2), evtchnPort(a.rport))).toBe(true);
  });
});

describe('the in-core API on a FIFO domain', () => {
  it('allocates, binds, notifies and calls onEvent listeners past port 4095; setMaxPorts allows up to 2^17 - 1', async () => {
    host = await bootHost();
    fifoGuest(host, 2, 8);
    const api = evtchnApi(host);
    api.setMaxPorts(domId(2), EVTCHN_FIFO_NR_CHANNELS + 5);
    for (let i = 1; i < 6000; i++) api.allocUnbound(domId(2), domId(1));
    const rport = api.allocUnbound(domId(2), domId(1));
    expect(rport).toBe(6000);
    const lport = api.bindInterdomain(domId(1), domId(2), rport);
    let heard = 0;
    api.onEvent(domId(2), rport, () => heard++);
    api.notify(domId(1), lport);
    api.notify(domId(1), lport);
    expect(heard).toBe(2);
    expect(api.isPending(domId(2), rport)).toBe(true);
    expect(api.portsInUse(domId(2))).toBe(6000);
    api.setMaxPorts(domId(2), 6000);
    expect(() => api.allocUnbound(domId(2), domId(1))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    api.close(domId(2), rport);
    expect(api.status(domId(1), lport)).toEqual({ status: 'unbound', vcpu: 0, remoteDom: 2 });
  });
});

describe("Dom0's kernel", () => {
  it('switches Dom0 to FIFO with its whole event array at boot, so its services may bind 20,000 ports without upcalls', async () => {
    host = await bootHost();
    host.engine.runFor(1e6);
    const dump = host.hypervisorSubsystems.find((s) => s.name === 'event-channel')!.dump!();
    expect(dump).toMatch(/dom0 \(FIFO, 128 event-array page\(s\)/);
    const api = evtchnApi(host);
    let last = 0;
    for (let i = 0; i < 20000; i++) last = api.allocUnbound(domId(0), domId(1));
    expect(last).toBe(20000);
    const guestPort = bindInterdomain(host, 1, 0, last);
    let heard = 0;
    api.onEvent(domId(0), evtchnPort(last), () => heard++);
    expect(send(host, 1, guestPort)).toBe(0);
    expect(heard).toBe(1);
    expect(api.isPending(domId(0), evtchnPort(last))).toBe(true);
    // Its words stay MASKED: the event is pending, never queued, and Dom0 gets no upcall.
    expect(upcallPending(host, 0, 0)).toBe(0);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import type { VcpuRequest } from '../../../core/api/domain.js';
import { Hypercall } from '../../../core/public/xen.js';
import { SCHEDOP, SHUTDOWN, type ShutdownReason } from '../../../core/public/sched.js';
import { VCPUOP } from '../../../core/public/vcpu.js';
import { XenErrno } from '../../../core/public/errno.js';
import { container as globalContainer } from 'tsyringe';
import { bootTestHost, runOnVcpu, vcpuOf } from '../../hypervisor/harness.js';
import { SchedCore } from '../../../core/cpu/sched-core.js';
import { schedOp } from '../../../core/cpu/sched-op.js';
import { MS, call, contextOf, installFakeEventChannels, upcall, writer } from './sched-helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

const { sched_op, vcpu_op } = Hypercall;

/** Arms the caller's singleshot timer at `at` from inside a program (struct at `addr`). */
function singleshotAt(h: Host, domid: number, vcpu: number, at: number, addr = 0x1000): number {
  const w = writer(h, domid, vcpu);
  w.u64(addr, Math.floor(at));
  w.u32(addr + 8, 0);
  return vcpuOf(h, domid, vcpu).hypercall(vcpu_op, [VCPUOP.set_singleshot_timer, vcpu, addr, 0, 0]);
}

describe('SCHEDOP_block', () => {
  it('with the real event channels: a PV vCPU blocks until its singleshot timer fires VIRQ_TIMER on a bound port', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'pv', type: 'pv' }] }));
    const w = writer(host, 1);
    w.u32(0x3000, 0); // virq TIMER
    w.u32(0x3004, 0); // vcpu 0
    expect(call(host, 1, 0, Hypercall.event_channel_op, 1 /* EVTCHNOP_bind_virq */, 0x3000)).toBe(0);
    const port = vcpuOf(host, 1).guest.readU32(0x3008);
    expect(port).toBeGreaterThan(0);
    const out = runOnVcpu(host, 1, 0, function* (v) {
      const armedAt = v.now;
      expect(singleshotAt(host, 1, 0, armedAt + 2 * MS)).toBe(0);
      const rc = yield* v.hypercallBlocking(sched_op, SCHEDOP.block);
      return { rc, armedAt, wokeAt: v.now };
    });
    expect(out.rc).toBe(0);
    expect(out.wokeAt).toBeGreaterThanOrEqual(Math.floor(out.armedAt + 2 * MS));
    expect(out.wokeAt).toBeLessThan(out.armedAt + 2.1 * MS);
    expect(upcall(host, 1, 0).pending).toBe(1);
    const pendingWord = host.sharedInfoOf(1)!.view.getBigUint64(2048 + Math.floor(port / 64) * 8, true);
    expect((pendingWord >> BigInt(port % 64)) & 1n).toBe(1n);
  });

  it('blocks the caller until a singleshot timer raises VIRQ_TIMER, clearing the upcall mask, and returns 0', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const evtchn = installFakeEventChannels(host);
    const loc = host.sharedInfoOf(1)!.vcpuInfo(0);
    const out = runOnVcpu(host, 1, 0, function* (v) {
      loc.view.setUint8(loc.offset + 1, 1); // upcalls masked, as a guest's idle loop has them before blocking
      const armedAt = v.now;
      expect(singleshotAt(host, 1, 0, armedAt + 5 * MS)).toBe(0);
      const rc = yield* v.hypercallBlocking(sched_op, SCHEDOP.block);
      return { rc, armedAt, wokeAt: v.now };
    });
    expect(out.rc).toBe(0);
    expect(out.wokeAt).toBeGreaterThanOrEqual(Math.floor(out.armedAt + 5 * MS));
    expect(out.wokeAt).toBeLessThan(out.armedAt + 5.1 * MS);
    expect(evtchn.virqsOf(1, 0)).toEqual([expect.objectContaining({ virq: 0, at: Math.floor(out.armedAt + 5 * MS) })]);
    expect(upcall(host, 1, 0).mask).toBe(0);
    expect(vcpuOf(host, 1).runstateInfo().time.blocked).toBeGreaterThan(4.9 * MS);
  });

  it('returns at once, without blocking, when an upcall is already pending', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const loc = host.sharedInfoOf(1)!.vcpuInfo(0);
    loc.view.setUint8(loc.offset, 1);
    const steps = runOnVcpu(host, 1, 0, function* (v) {
      const gen = v.hypercallBlocking(sched_op, SCHEDOP.block);
      return [gen.next(), v.now] as const;
    });
    expect(steps[0]).toEqual({ done: true, value: 0 });
  });

  it('a plain hypercall() of block is honoured at the next preemption point instead of hanging', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const v1 = vcpuOf(host, 1);
    host.engine.at(host.engine.now + 7 * MS, () => v1.kick());
    const out = runOnVcpu(host, 1, 0, function* (v) {
      const start = v.now;
      const rc = v.hypercall(sched_op, SCHEDOP.block);
      const afterCall = v.now;
      yield v.preempt();
      return { rc, start, afterCall, resumed: v.now };
    });
    expect(out.rc).toBe(0);
    expect(out.afterCall - out.start).toBeLessThan(0.1 * MS);
    expect(out.resumed).toBeGreaterThanOrEqual(7 * MS);
  });
});

describe('SCHEDOP_yield', () => {
  it('hands the yield request to the program and returns 0', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const seen = runOnVcpu(host, 1, 0, function* (v) {
      const gen = v.hypercallBlocking(sched_op, SCHEDOP.yield);
      const first = gen.next();
      const request = first.value as VcpuRequest;
      yield request;
      return { request, last: gen.next() };
    });
    expect(seen.request).toEqual({ op: 'yield' });
    expect(seen.last).toEqual({ done: true, value: 0 });
  });
});

describe('SCHEDOP_poll', () => {
  const POLL = 0x2000;
  const PORTS = 0x2100;
  function pollArgs(h: Host, domid: number, ports: number[], timeout: number, nr = ports.length): void {
    const w = writer(h, domid);
    ports.forEach((p, i) => w.u32(PORTS + i * 4, p));
    w.u64(POLL, PORTS);
    w.u32(POLL + 8, nr);
    w.u64(POLL + 16, Math.floor(timeout));
  }

  it('is −ENOSYS while no event-channel API is registered', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    pollArgs(host, 1, [3], 0);
    const bare = new SchedCore(contextOf(host, globalContainer.createChildContainer()));
    expect(() => schedOp(bare, vcpuOf(host, 1), [SCHEDOP.poll, POLL])).toThrow(expect.objectContaining({ code: 'ENOSYS' }));
  });

  it('with the real event channels: wakes when a polled port is notified by its peer', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const w = writer(host, 1);
    w.u16(0x3000, 0x7ff0); // alloc_unbound: dom = DOMID_SELF, remote_dom = 0
    w.u16(0x3002, 0);
    expect(call(host, 1, 0, Hypercall.event_channel_op, 6 /* EVTCHNOP_alloc_unbound */, 0x3000)).toBe(0);
    const port = vcpuOf(host, 1).guest.readU32(0x3004);
    const d0 = writer(host, 0);
    d0.u16(0x3000, 1);
    d0.u32(0x3004, port);
    expect(call(host, 0, 0, Hypercall.event_channel_op, 0 /* EVTCHNOP_bind_interdomain */, 0x3000)).toBe(0);
    const dom0Port = vcpuOf(host, 0).guest.readU32(0x3008);
    const pending = host.sharedInfoOf(1)!.view;
    pending.setBigUint64(2048, 0n, true); // binding set it pending: the guest acknowledges it
    host.sharedInfoOf(1)!.vcpuInfo(0).bytes.fill(0, host.sharedInfoOf(1)!.vcpuInfo(0).offset, host.sharedInfoOf(1)!.vcpuInfo(0).offset + 16);
    pollArgs(host, 1, [port], 0);
    host.engine.at(host.engine.now + 3 * MS, () => {
      d0.u32(0x3010, dom0Port);
      call(host, 0, 0, Hypercall.event_channel_op, 4 /* EVTCHNOP_send */, 0x3010);
    });
    const out = runOnVcpu(host, 1, 0, function* (v) {
      const rc = yield* v.hypercallBlocking(sched_op, SCHEDOP.poll, POLL);
      return { rc, at: v.now };
    });
    expect(out.rc).toBe(0);
    expect(out.at).toBeGreaterThanOrEqual(3 * MS);
    expect(out.at).toBeLessThan(3.1 * MS);
  });

  it('wakes with 0 when a polled port becomes pending, even masked', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const evtchn = installFakeEventChannels(host);
    pollArgs(host, 1, [5], 0);
    host.engine.at(host.engine.now + 3 * MS, () => evtchn.raisePort(1, 5, { masked: true }));
    const out = runOnVcpu(host, 1, 0, function* (v) {
      const rc = yield* v.hypercallBlocking(sched_op, SCHEDOP.poll, POLL);
      return { rc, at: v.now };
    });
    expect(out.rc).toBe(0);
    expect(out.at).toBeGreaterThanOrEqual(3 * MS);
    expect(out.at).toBeLessThan(3.1 * MS);
  });

  it('returns 0 at its timeout when nothing arrives, and at once when a port is already pending', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const evtchn = installFakeEventChannels(host);
    const out = runOnVcpu(host, 1, 0, function* (v) {
      pollArgs(host, 1, [7, 8], v.now + 4 * MS);
      const start = v.now;
      const rc = yield* v.hypercallBlocking(sched_op, SCHEDOP.poll, POLL);
      return { rc, waited: v.now - start };
    });
    expect(out.rc).toBe(0);
    expect(out.waited).toBeGreaterThanOrEqual(3.99 * MS);
    evtchn.pending.add('1:8');
    const again = runOnVcpu(host, 1, 0, function* (v) {
      const gen = v.hypercallBlocking(sched_op, SCHEDOP.poll, POLL);
      return gen.next();
    });
    expect(again).toEqual({ done: true, value: 0 });
  });

  it('refuses more than 128 ports (−EINVAL), ports past the limit (−EINVAL) and an unreadable list (−EFAULT)', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    installFakeEventChannels(host);
    pollArgs(host, 1, [1], 0, 129);
    expect(call(host, 1, 0, sched_op, SCHEDOP.poll, POLL)).toBe(-XenErrno.EINVAL);
    pollArgs(host, 1, [4096], 0);
    expect(call(host, 1, 0, sched_op, SCHEDOP.poll, POLL)).toBe(-XenErrno.EINVAL);
    const w = writer(host, 1);
    w.u64(POLL, 2 ** 40);
    w.u32(POLL + 8, 2);
    expect(call(host, 1, 0, sched_op, SCHEDOP.poll, POLL)).toBe(-XenErrno.EFAULT);
    expect(call(host, 1, 0, sched_op, SCHEDOP.poll, 2 ** 40)).toBe(-XenErrno.EFAULT);
    expect(vcpuOf(host, 1).deferred).toBeNull();
  });
});

describe('SCHEDOP_shutdown', () => {
  it('shuts the caller down with every reason and stops its vCPUs', async () => {
    const reasons = Object.keys(SHUTDOWN) as ShutdownReason[];
    ({ host } = await bootTestHost({ guests: reasons.map((r) => ({ name: r, vcpus: 2 })) }));
    reasons.forEach((reason, i) => {
      const domid = i + 1;
      writer(host, domid).u32(0x1000, SHUTDOWN[reason]);
      const d = host.domains.lookup(domid);
      let spins = 0;
      d.vcpus[1]!.setProgram(function* (v) {
        for (;;) {
          spins++;
          v.compute(10_000);
          yield v.preempt();
        }
      });
      host.runFor(2 * MS);
      const rc = runOnVcpu(host, domid, 0, function* (v) {
        return v.hypercall(sched_op, SCHEDOP.shutdown, 0x1000);
      });
      expect(rc).toBe(0);
      expect(d.shutdownReason).toBe(reason);
      expect(d.state).toBe('shutdown');
      host.runFor(1 * MS);
      const after = spins;
      host.runFor(5 * MS);
      expect(spins).toBe(after);
    });
  });

  it('reports a latched SCHEDOP_shutdown_code instead of the later reason, and refuses unknown reasons', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const w = writer(host, 1);
    w.u32(0x1000, 99);
    expect(call(host, 1, 0, sched_op, SCHEDOP.shutdown, 0x1000)).toBe(-XenErrno.EINVAL);
    expect(call(host, 1, 0, sched_op, SCHEDOP.shutdown_code, 0x1000)).toBe(-XenErrno.EINVAL);
    w.u32(0x1000, SHUTDOWN.crash);
    expect(call(host, 1, 0, sched_op, SCHEDOP.shutdown_code, 0x1000)).toBe(0);
    w.u32(0x1000, SHUTDOWN.reboot);
    expect(call(host, 1, 0, sched_op, SCHEDOP.shutdown_code, 0x1000)).toBe(0);
    w.u32(0x1000, SHUTDOWN.poweroff);
    expect(host.domains.lookup(1).state).not.toBe('shutdown');
    expect(call(host, 1, 0, sched_op, SCHEDOP.shutdown, 0x1000)).toBe(0);
    expect(host.domains.lookup(1).shutdownReason).toBe('crash');
  });
});

describe('SCHEDOP_remote_shutdown', () => {
  it('lets Dom0 shut another domain down', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const w = writer(host, 0);
    w.u16(0x1000, 1);
    w.u32(0x1004, SHUTDOWN.reboot);
    expect(call(host, 0, 0, sched_op, SCHEDOP.remote_shutdown, 0x1000)).toBe(0);
    expect(host.domains.lookup(1).shutdownReason).toBe('reboot');
    w.u16(0x1000, 77);
    expect(call(host, 0, 0, sched_op, SCHEDOP.remote_shutdown, 0x1000)).toBe(-XenErrno.ESRCH);
  });

  it('is −EPERM from an unprivileged domain, and the target keeps running', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'attacker' }, { name: 'victim' }] }));
    let spins = 0;
    vcpuOf(host, 2).setProgram(function* (v) {
      for (;;) {
        spins++;
        v.compute(10_000);
        yield v.preempt();
      }
    });
    const w = writer(host, 1);
    w.u16(0x1000, 2);
    w.u32(0x1004, SHUTDOWN.crash);
    expect(call(host, 1, 0, sched_op, SCHEDOP.remote_shutdown, 0x1000)).toBe(-XenErrno.EPERM);
    w.u16(0x1000, 0);
    expect(call(host, 1, 0, sched_op, SCHEDOP.remote_shutdown, 0x1000)).toBe(-XenErrno.EPERM);
    const before = spins;
    host.runFor(5 * MS);
    expect(spins).toBeGreaterThan(before);
    expect(host.domains.lookup(2).state).toBe('running');
    expect(host.domains.lookup(2).shutdownReason).toBeUndefined();
    expect(host.domains.lookup(0).shutdownReason).toBeUndefined();
  });
});

describe('SCHEDOP_watchdog', () => {
  it('hands out two watchdogs, pokes and frees them, and shuts the domain down with SHUTDOWN_watchdog when one expires', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const w = writer(host, 1);
    const dog = (id: number, timeout: number): number => {
      w.u32(0x1000, id);
      w.u32(0x1004, timeout);
      return call(host, 1, 0, sched_op, SCHEDOP.watchdog, 0x1000);
    };
    expect(dog(0, 2)).toBe(1);
    expect(dog(0, 10)).toBe(2);
    expect(dog(0, 10)).toBe(-XenErrno.ENOSPC);
    expect(dog(3, 10)).toBe(-XenErrno.EINVAL);
    expect(dog(2, 0)).toBe(0);
    expect(dog(2, 5)).toBe(-XenErrno.EINVAL);
    host.runFor(1500 * MS);
    expect(dog(1, 2)).toBe(0);
    host.runFor(1500 * MS);
    expect(host.domains.lookup(1).shutdownReason).toBeUndefined();
    host.runFor(1000 * MS);
    expect(host.domains.lookup(1).shutdownReason).toBe('watchdog');
  });
});

describe('SCHEDOP_pin_override and unknown ops', () => {
  it('pins the hardware domain caller and undoes it; −EPERM for others; −ENOSYS for unknown commands', async () => {
    ({ host } = await bootTestHost({ cpus: 3, guests: [{ name: 'g' }] }));
    const v0 = vcpuOf(host, 0);
    writer(host, 0).u32(0x1000, 2);
    expect(call(host, 0, 0, sched_op, SCHEDOP.pin_override, 0x1000)).toBe(0);
    expect(v0.hardAffinity.toArray()).toEqual([2]);
    writer(host, 0).u32(0x1000, -1 >>> 0);
    expect(call(host, 0, 0, sched_op, SCHEDOP.pin_override, 0x1000)).toBe(0);
    expect(v0.hardAffinity.size).toBe(3);
    writer(host, 0).u32(0x1000, 9);
    expect(call(host, 0, 0, sched_op, SCHEDOP.pin_override, 0x1000)).toBe(-XenErrno.EINVAL);
    writer(host, 1).u32(0x1000, 1);
    expect(call(host, 1, 0, sched_op, SCHEDOP.pin_override, 0x1000)).toBe(-XenErrno.EPERM);
    expect(call(host, 1, 0, sched_op, 8)).toBe(-XenErrno.ENOSYS);
    expect(call(host, 1, 0, sched_op, -1)).toBe(-XenErrno.ENOSYS);
  });
});

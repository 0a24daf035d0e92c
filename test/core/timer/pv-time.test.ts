import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { DEFAULT_BOOT_EPOCH_NS, pvclockRead, readVcpuTimeInfo, readWallclock, scaleDelta, setTimeScale } from '../../../core/timer/pv-time.js';
import { SchedOps } from '../../../core/cpu/sched-state.js';
import { createSchedOpsWith } from '../../../core/cpu/sched-op.js';
import { SharedInfo, VcpuInfo, XEN_PVCLOCK_TSC_STABLE_BIT } from '../../../core/public/shared-info.js';
import { Hypercall } from '../../../core/public/xen.js';
import { VCPUOP } from '../../../core/public/vcpu.js';
import { bootTestHost, runOnVcpu, vcpuOf } from '../../hypervisor/harness.js';
import { MS, call, contextOf, writer } from '../cpu/sched-helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

describe("Xen's set_time_scale", () => {
  it('gives the mul/shift Xen computes', () => {
    expect(setTimeScale(2_000_000_000)).toEqual({ mulFrac: 2 ** 31, shift: 0 });
    expect(setTimeScale(3_000_000_000)).toEqual({ mulFrac: 2863311530, shift: -1 });
    expect(setTimeScale(1_000_000_000)).toEqual({ mulFrac: 2 ** 31, shift: 1 });
    expect(setTimeScale(14_318_180)).toMatchObject({ shift: 7 });
  });

  it('converts one second of ticks to 10⁹ ns within a few ns at common frequencies', () => {
    for (const hz of [1_000_000_000, 2_400_000_000, 2_893_300_000, 3_600_000_000]) {
      const ns = scaleDelta(BigInt(hz), setTimeScale(hz));
      expect(Math.abs(Number(ns) - 1e9)).toBeLessThanOrEqual(2);
    }
  });
});

describe('PV time in vcpu_time_info', () => {
  it('lets a guest compute the time from its TSC with the documented algorithm, within a few ns of engine time', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const shared = host.sharedInfoOf(1)!;
    const vcpu = vcpuOf(host, 1);
    const errors = runOnVcpu(host, 1, 0, function* (v) {
      const out: number[] = [];
      for (let i = 0; i < 40; i++) {
        v.compute(12_345 * (i + 1));
        if (i % 5 === 0) yield v.sleepFor(3 * MS + i * 1000);
        if (i % 7 === 0) yield v.preempt();
        const loc = shared.vcpuInfo(v.vcpuId);
        const now = pvclockRead(loc.view, loc.offset + VcpuInfo.time, () => host.timers.tsc.read(vcpu.processor, v.now));
        out.push(Number(now) - v.now);
      }
      return out;
    });
    for (const e of errors) expect(Math.abs(e)).toBeLessThan(3);
    const info = readVcpuTimeInfo(shared.view, VcpuInfo.time);
    expect(info.version % 2).toBe(0);
    expect(info.flags).toBe(XEN_PVCLOCK_TSC_STABLE_BIT);
    expect(info.scale).toEqual(setTimeScale(host.timers.tsc.khz * 1000));
  });

  it("holds its pCPU's calibration stamp, rewritten (version += 2) only when that changed: not on every switch-in, nor on a timer set", async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const shared = host.sharedInfoOf(1)!;
    const vcpu = vcpuOf(host, 1);
    const record = () => readVcpuTimeInfo(shared.view, VcpuInfo.time);
    const stampAt = (second: number) => ({ systemTime: BigInt(second * 1e9), tscTimestamp: host.timers.tsc.read(vcpu.processor, second * 1e9) });
    const sleepTwice = () =>
      runOnVcpu(host, 1, 0, function* (v) {
        yield v.sleepFor(MS);
        yield v.sleepFor(MS);
        return 0;
      });
    host.runFor(0.2e9);
    sleepTwice();
    const first = record();
    const second = Math.floor(host.engine.now / 1e9);
    expect(first).toMatchObject(stampAt(second));
    // Scheduled in again (twice) in the same calibration period, and a timer set: the record stays as it is.
    sleepTwice();
    expect(call(host, 1, 0, Hypercall.set_timer_op, host.engine.now + MS)).toBe(0);
    expect(record()).toEqual(first);
    // Past the next calibration, the vCPU (not running then) gets the new stamp when it is scheduled in.
    host.runFor((second + 1) * 1e9 - host.engine.now + MS);
    expect(record()).toEqual(first);
    sleepTwice();
    expect(record()).toMatchObject({ ...stampAt(second + 1), version: first.version + 2 });
    // A vCPU running across a calibration gets the new stamp there, without being scheduled out.
    const seen = runOnVcpu(host, 1, 0, function* (v) {
      const until = (second + 2) * 1e9 + MS;
      while (v.now < until) {
        v.compute(300_000);
        yield v.preempt();
      }
      return record().systemTime;
    }, 3e9);
    expect(seen).toBe(BigInt((second + 2) * 1e9));
  });

  it('keeps a secondary copy registered with register_vcpu_time_memory_area', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    writer(host, 1).u64(0x1000, 0x5000);
    expect(call(host, 1, 0, Hypercall.vcpu_op, VCPUOP.register_vcpu_time_memory_area, 0, 0x1000)).toBe(0);
    host.runFor(MS);
    const copy = writer(host, 1).read(0x5000, 32);
    const master = host.sharedInfoOf(1)!.bytes.subarray(VcpuInfo.time, VcpuInfo.time + 32);
    expect(Array.from(copy)).toEqual(Array.from(master));
  });
});

describe('the wallclock in shared_info', () => {
  it('is the fixed default boot epoch (2026-01-01T00:00:00Z) at domain creation, never the host date', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const view = host.sharedInfoOf(1)!.view;
    expect(readWallclock(view)).toBe(DEFAULT_BOOT_EPOCH_NS);
    expect(view.getUint32(SharedInfo.wcSec, true)).toBe(1_767_225_600);
    expect(view.getUint32(SharedInfo.wcVersion, true) % 2).toBe(0);
  });

  it('follows the toolstack setting it (XENPF_settime semantics), wc_sec_hi included, in every domain', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    host.runFor(5 * MS);
    const sched = host.container.resolve(SchedOps);
    const sec = 2n ** 32n + 7n;
    sched.setWallclock(sec, 250, host.engine.now);
    for (const domid of [0, 1]) {
      const view = host.sharedInfoOf(domid)!.view;
      expect(readWallclock(view)).toBe(sec * 1_000_000_000n + 250n - BigInt(5 * MS));
      expect(view.getUint32(SharedInfo.wcSecHi, true)).toBe(1);
    }
  });

  it('takes a configured boot epoch', async () => {
    ({ host } = await bootTestHost({ guests: [] }));
    host.hypervisorSubsystems.find((s) => s.name === 'sched-op')!.dispose!();
    const epoch = 1_000_000_000n * 1_000_000_000n + 42n;
    createSchedOpsWith({ bootEpochNs: epoch })(contextOf(host));
    const d = host.domains.create({ name: 'late', mode: 'pvh' });
    expect(readWallclock(host.sharedInfoOf(d.domid)!.view)).toBe(epoch);
  });
});

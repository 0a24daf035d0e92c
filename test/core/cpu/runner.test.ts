import { describe, expect, it } from 'vitest';
import { FifoScheduler, MS, makeHost, spin } from './host.js';
import type { VcpuApi, VcpuCoroutine, WakeReason } from '../../../core/api/domain.js';
import { CpuMask, type SchedDecision, type SchedVcpu } from '../../../core/api/scheduler.js';
import { TraceKind } from '../../../core/engine/trace.js';
import { Hypercall, XEN_MAJOR, XEN_MINOR } from '../../../core/public/xen.js';
import { pcpuId } from '../../../core/public/types.js';

describe('vCPU runner', () => {
  it('leaves a vCPU without a program idle-blocked, accruing no run time', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    h.engine.runFor(50 * MS);
    const info = d.vcpus[0]!.runstateInfo();
    expect(info.state).toBe('blocked');
    expect(info.time.running).toBe(0);
    expect(info.time.blocked).toBe(50 * MS);
    expect(d.state).toBe('blocked');
    expect(h.pool.pcpu(pcpuId(0)).idleTime).toBe(50 * MS);
  });

  it('runs a CPU-bound program for all the time it is given, less the first context switch', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    d.vcpus[0]!.setProgram(spin);
    h.engine.runFor(100 * MS);
    const info = d.vcpus[0]!.runstateInfo();
    expect(info.state).toBe('running');
    expect(info.time.running).toBe(100 * MS);
    expect(d.state).toBe('running');
    expect(h.pool.pcpu(pcpuId(0)).switches).toBe(1);
  });

  it('keeps a running vCPU at most one quantum ahead of global time', () => {
    const h = makeHost(new FifoScheduler(), { quantum: 2 * MS });
    const d = h.domains.create({ paused: false });
    let worst = 0;
    d.vcpus[0]!.setProgram(function* (v) {
      for (;;) {
        v.compute(100_000);
        worst = Math.max(worst, v.now - h.engine.now);
        yield v.preempt();
      }
    });
    h.engine.runFor(50 * MS);
    expect(worst).toBeGreaterThan(1 * MS);
    // One quantum, plus the context switch that starts the slice and the step that crosses its end.
    expect(worst).toBeLessThanOrEqual(2 * MS + h.engine.cyclesToNs(h.engine.cost.contextSwitch) + h.engine.cyclesToNs(100_000));
  });

  it('wakes a blocked vCPU on kick, with reason "event", and counts the wait as blocked', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    const v = d.vcpus[0]!;
    const reasons: WakeReason[] = [];
    const wokeAt: number[] = [];
    v.setProgram(function* (api) {
      api.compute(3000);
      reasons.push(yield api.block());
      wokeAt.push(api.now);
    });
    h.engine.at(5 * MS, () => v.kick());
    h.engine.runFor(20 * MS);
    expect(reasons).toEqual(['event']);
    expect(wokeAt[0]).toBeGreaterThanOrEqual(5 * MS);
    const info = v.runstateInfo();
    expect(info.time.blocked).toBeGreaterThan(4.9 * MS + 15 * MS - 0.01 * MS);
    expect(info.time.running).toBeLessThan(0.01 * MS);
  });

  it('makes block return at once when an event arrived before it (no lost wake-up)', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    const v = d.vcpus[0]!;
    const reasons: WakeReason[] = [];
    v.setProgram(function* (api) {
      v.kick();
      reasons.push(yield api.block());
      reasons.push(yield api.block());
    });
    h.engine.runFor(10 * MS);
    expect(reasons).toEqual(['event']);
    expect(v.runstate).toBe('blocked');
  });

  it('treats a pending-event source like a kick for block', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    const v = d.vcpus[0]!;
    let pending = true;
    v.addPendingSource({ hasPending: () => pending });
    const reasons: WakeReason[] = [];
    v.setProgram(function* (api) {
      reasons.push(yield api.halt());
      pending = false;
      reasons.push(yield api.halt());
    });
    h.engine.runFor(10 * MS);
    expect(reasons).toEqual(['event']);
    expect(v.runstate).toBe('blocked');
  });

  it('sleeps until a virtual time, ignoring kicks', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    const v = d.vcpus[0]!;
    const seen: [WakeReason, number][] = [];
    v.setProgram(function* (api) {
      const r = yield api.sleepUntil(7 * MS);
      seen.push([r, api.now]);
    });
    h.engine.at(2 * MS, () => v.kick());
    h.engine.runFor(20 * MS);
    expect(seen).toHaveLength(1);
    expect(seen[0]![0]).toBe('timeout');
    expect(seen[0]![1]).toBeGreaterThanOrEqual(7 * MS);
  });

  it('ends a poll on its timeout or on an event', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false, vcpus: 2 });
    const out: WakeReason[] = [];
    d.vcpus[0]!.setProgram(function* (api) {
      out.push(yield api.poll(3 * MS));
    });
    d.vcpus[1]!.setProgram(function* (api) {
      out.push(yield api.poll(30 * MS));
    });
    h.engine.at(10 * MS, () => d.vcpus[1]!.kick());
    h.engine.runFor(40 * MS);
    expect(out).toEqual(['timeout', 'event']);
  });

  it('charges context switches when two vCPUs share a pCPU', () => {
    const h = makeHost(new FifoScheduler(10 * MS));
    const a = h.domains.create({ paused: false });
    const b = h.domains.create({ paused: false });
    a.vcpus[0]!.setProgram(spin);
    b.vcpus[0]!.setProgram(spin);
    h.engine.runFor(100 * MS);
    const ra = a.vcpus[0]!.runstateInfo().time;
    const rb = b.vcpus[0]!.runstateInfo().time;
    expect(ra.running + rb.running).toBe(100 * MS);
    // Each slice ends at the first preemption point past its end: at most one 100 µs step late.
    expect(Math.abs(ra.running - 50 * MS)).toBeLessThan(0.1 * MS);
    expect(Math.abs(ra.runnable - 50 * MS)).toBeLessThan(0.1 * MS);
    expect(h.pool.pcpu(pcpuId(0)).switches).toBe(10);
  });

  it('stops a paused domain within a quantum and resumes it on unpause', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    d.vcpus[0]!.setProgram(spin);
    h.engine.runFor(10 * MS);
    h.domains.pause(d.domid);
    h.engine.runFor(20 * MS);
    const v = d.vcpus[0]!;
    expect(v.runstate).toBe('offline');
    expect(d.state).toBe('paused');
    const runningWhilePaused = v.runstateInfo().time.running;
    expect(runningWhilePaused).toBeLessThanOrEqual(10 * MS + h.pool.quantum);
    h.domains.unpause(d.domid);
    h.engine.runFor(10 * MS);
    expect(v.runstateInfo().time.running).toBeGreaterThanOrEqual(runningWhilePaused + 9.9 * MS);
  });

  it('crashes only the domain whose program throws; others carry on', () => {
    const h = makeHost(new FifoScheduler(), { cpus: 2 });
    const bad = h.domains.create({ paused: false, vcpus: 2 });
    const good = h.domains.create({ paused: false });
    bad.vcpus[0]!.setProgram(function* (v) {
      v.compute(1000);
      yield v.preempt();
      throw new Error('boom');
    });
    bad.vcpus[1]!.setProgram(spin);
    good.vcpus[0]!.setProgram(spin);
    h.engine.runFor(20 * MS);
    expect(bad.state).toBe('shutdown');
    expect(bad.shutdownReason).toBe('crash');
    expect(h.sink.lines('error').some((l) => l.includes(`dom${bad.domid} vcpu0`) && l.includes('boom'))).toBe(true);
    expect(bad.vcpus[1]!.runstate).not.toBe('running');
    expect(good.vcpus[0]!.runstate).toBe('running');
    expect(good.vcpus[0]!.runstateInfo().time.running).toBeGreaterThan(15 * MS);
  });

  it('stops a program that computes past its slice without a preemption point', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    d.vcpus[0]!.setProgram(function* (v) {
      for (;;) v.compute(300_000);
    });
    h.engine.runFor(10 * MS);
    expect(d.shutdownReason).toBe('crash');
    expect(h.sink.lines('error').join('\n')).toMatch(/without a preemption point/);
  });

  it('ends a slice on SCHEDOP_yield and lets the other vCPU run', () => {
    const h = makeHost(new FifoScheduler(10 * MS));
    const a = h.domains.create({ paused: false });
    const b = h.domains.create({ paused: false });
    a.vcpus[0]!.setProgram(function* (v) {
      for (;;) {
        v.compute(3000);
        yield v.yield();
      }
    });
    b.vcpus[0]!.setProgram(spin);
    h.engine.runFor(100 * MS);
    expect(b.vcpus[0]!.runstateInfo().time.running).toBeGreaterThan(95 * MS);
  });

  it('makes hypercalls synchronously and charges their cost to the local clock', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    const results: number[] = [];
    let cost = 0;
    d.vcpus[0]!.setProgram(function* (v: VcpuApi): VcpuCoroutine {
      const before = v.now;
      results.push(v.hypercall(Hypercall.xen_version, 0));
      cost = v.now - before;
      results.push(v.hypercall(Hypercall.mmu_update));
      yield v.block();
    });
    h.engine.runFor(MS);
    expect(results).toEqual([(XEN_MAJOR << 16) | XEN_MINOR, -38]);
    expect(cost).toBeCloseTo(h.engine.cyclesToNs(h.engine.cost.hypercall), 6);
    expect(h.engine.trace.count(TraceKind.Hypercall)).toBe(2);
  });

  it('refuses a scheduler decision outside the hard affinity', () => {
    const sched = new FifoScheduler();
    const h = makeHost(sched, { cpus: 2 });
    const d = h.domains.create({ paused: false, affinity: CpuMask.of(1) });
    sched.doSchedule = (): SchedDecision => {
      const pick = sched.queue.shift();
      return pick === undefined ? { next: null, slice: Infinity } : { next: pick as SchedVcpu, slice: MS };
    };
    h.pool.tickle(pcpuId(0));
    d.vcpus[0]!.setProgram(spin);
    expect(() => h.engine.runFor(MS)).toThrow(/cpu0: picked dom1 vcpu0 outside its hard affinity 1/);
  });

  it('rejects an affinity with no pCPU of the pool', () => {
    const h = makeHost(new FifoScheduler(), { cpus: 2 });
    const d = h.domains.create({ paused: false });
    expect(() => d.vcpus[0]!.setHardAffinity(CpuMask.of(5))).toThrow(/no pCPU of the pool/);
  });

  it('moves a running vCPU off a pCPU its new affinity excludes', () => {
    const h = makeHost(new FifoScheduler(), { cpus: 2 });
    const d = h.domains.create({ paused: false, affinity: CpuMask.of(0) });
    const v = d.vcpus[0]!;
    v.setProgram(spin);
    h.engine.runFor(5 * MS);
    expect(h.pool.pcpu(pcpuId(0)).current).toBe(v);
    v.setHardAffinity(CpuMask.of(1));
    h.engine.runFor(5 * MS);
    expect(h.pool.pcpu(pcpuId(1)).current).toBe(v);
    expect(v.processor).toBe(1);
  });
});

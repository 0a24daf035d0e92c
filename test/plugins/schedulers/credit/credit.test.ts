import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import creditPlugin, { CreditOptions, createCreditScheduler } from '../../../../plugins/schedulers/credit/index.js';
import { SchedulerRegistryImpl } from '../../../../core/cpu/scheduler-registry.js';
import { SchedulerRegistry, CpuMask, type SchedulerOps } from '../../../../core/api/scheduler.js';
import type { PluginContext } from '../../../../core/api/plugin.js';
import type { VcpuApi, VcpuCoroutine } from '../../../../core/api/domain.js';
import { GuestError } from '../../../../core/api/errors.js';
import { TraceKind } from '../../../../core/engine/trace.js';
import { MS, makeHost, spin } from '../../../core/cpu/host.js';

const SECOND = 1000 * MS;

function credit(options: Partial<CreditOptions> = {}): SchedulerOps {
  return createCreditScheduler({ tslice_ms: 30, ratelimit_us: 1000, ...options });
}

function running(d: { vcpus: readonly { runstateInfo(): { time: { running: number } } }[] }): number {
  return d.vcpus.reduce((sum, v) => sum + v.runstateInfo().time.running, 0);
}

describe('credit scheduler plugin', () => {
  it('registers "credit" in the SchedulerRegistry from register(ctx)', async () => {
    const registry = new SchedulerRegistryImpl();
    const disposers: (() => void)[] = [];
    const ctx = {
      name: 'credit',
      options: Value.Default(CreditOptions, {}) as CreditOptions,
      resolve: (token: unknown) => {
        expect(token).toBe(SchedulerRegistry);
        return registry;
      },
      onDispose: (fn: () => void) => disposers.push(fn),
    } as unknown as PluginContext<CreditOptions>;
    await creditPlugin.register(ctx);
    expect(registry.names()).toEqual(['credit']);
    const ops = registry.create('credit');
    expect(ops.optName).toBe('credit');
    expect(ops.name).toBe('SMP Credit Scheduler');
    disposers.forEach((fn) => fn());
    expect(registry.names()).toEqual([]);
  });

  it('declares its kind, feature and options with defaults, rejecting unknown keys', () => {
    expect(creditPlugin.kind).toBe('scheduler');
    expect(creditPlugin.provides).toEqual(['SCHED_CREDIT']);
    expect(Value.Default(CreditOptions, {})).toEqual({ tslice_ms: 30, ratelimit_us: 1000 });
    expect(Value.Check(CreditOptions, { tslice_ms: 30, ratelimit_us: 1000, bogus: 1 })).toBe(false);
    expect(() => createCreditScheduler({ tslice_ms: 1, ratelimit_us: 5000 })).toThrow(/exceeds tslice_ms/);
  });

  it('shares one pCPU 1:2 between CPU-bound domains of weight 256 and 512', () => {
    const h = makeHost(credit());
    const a = h.domains.create({ paused: false });
    const b = h.domains.create({ paused: false });
    h.pool.setDomainParams(b.domid, { weight: 512 });
    a.vcpus[0]!.setProgram(spin);
    b.vcpus[0]!.setProgram(spin);
    h.engine.runFor(3 * SECOND);
    const ra = running(a);
    const rb = running(b);
    expect(ra + rb).toBeGreaterThan(2.99 * SECOND);
    expect(rb / ra).toBeGreaterThan(1.8);
    expect(rb / ra).toBeLessThan(2.2);
  });

  it('holds a domain capped at 50 to about half a pCPU, even when alone', () => {
    const h = makeHost(credit());
    const d = h.domains.create({ paused: false });
    h.pool.setDomainParams(d.domid, { cap: 50 });
    d.vcpus[0]!.setProgram(spin);
    h.engine.runFor(3 * SECOND);
    const share = running(d) / (3 * SECOND);
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.55);
  });

  it('caps a domain against a competitor too, giving the rest to the competitor', () => {
    const h = makeHost(credit());
    const capped = h.domains.create({ paused: false });
    const other = h.domains.create({ paused: false });
    h.pool.setDomainParams(capped.domid, { cap: 25 });
    capped.vcpus[0]!.setProgram(spin);
    other.vcpus[0]!.setProgram(spin);
    h.engine.runFor(3 * SECOND);
    expect(running(capped) / (3 * SECOND)).toBeLessThan(0.3);
    expect(running(other) / (3 * SECOND)).toBeGreaterThan(0.7);
  });

  it('never runs a pinned vCPU on another pCPU', () => {
    const h = makeHost(credit(), { cpus: 4 });
    const pinned = h.domains.create({ paused: false, vcpus: 2, affinity: CpuMask.of(2) });
    const others = [h.domains.create({ paused: false, vcpus: 4 }), h.domains.create({ paused: false, vcpus: 3 })];
    const placements = new Set<number>();
    h.engine.trace.subscribe((r) => {
      if (r.kind === TraceKind.Schedule && r.domid === pinned.domid) placements.add(r.a);
    });
    for (const v of pinned.vcpus) v.setProgram(spin);
    for (const d of others) for (const v of d.vcpus) v.setProgram(spin);
    h.engine.runFor(1 * SECOND);
    expect([...placements]).toEqual([2]);
    expect(running(pinned)).toBeGreaterThan(0.3 * SECOND);
  });

  it('lets idle pCPUs steal queued work (both vCPUs start on cpu0)', () => {
    const h = makeHost(credit(), { cpus: 2 });
    const d = h.domains.create({ paused: false, vcpus: 2 });
    for (const v of d.vcpus) v.setProgram(spin);
    h.engine.runFor(1 * SECOND);
    for (const v of d.vcpus) expect(v.runstateInfo().time.running).toBeGreaterThan(0.98 * SECOND);
  });

  it('charges nothing to a blocked vCPU while another domain computes', () => {
    const h = makeHost(credit());
    const blocked = h.domains.create({ paused: false });
    const busy = h.domains.create({ paused: false });
    blocked.vcpus[0]!.setProgram(function* (v) {
      for (;;) yield v.block();
    });
    busy.vcpus[0]!.setProgram(spin);
    h.engine.runFor(1 * SECOND);
    const info = blocked.vcpus[0]!.runstateInfo();
    expect(info.state).toBe('blocked');
    expect(info.time.running).toBeLessThan(0.01 * MS);
    expect(info.time.blocked).toBeGreaterThan(0.99 * SECOND);
  });

  it('boosts a waking vCPU ahead of a CPU hog (low wake-up latency)', () => {
    const h = makeHost(credit());
    const hog = h.domains.create({ paused: false });
    const io = h.domains.create({ paused: false });
    const latencies: number[] = [];
    hog.vcpus[0]!.setProgram(spin);
    io.vcpus[0]!.setProgram(function* (v: VcpuApi): VcpuCoroutine {
      for (;;) {
        const due = v.now + 5 * MS;
        yield v.sleepUntil(due);
        latencies.push(v.now - due);
        v.compute(30_000);
      }
    });
    h.engine.runFor(1 * SECOND);
    expect(latencies.length).toBeGreaterThan(150);
    // Without boost it would wait for the hog's 30 ms slice; with it, at most ratelimit + one quantum.
    expect(Math.max(...latencies)).toBeLessThan(2.2 * MS);
  });

  it('stops its accounting timer once every vCPU is idle, so the engine can go idle', () => {
    const h = makeHost(credit());
    const d = h.domains.create({ paused: false });
    d.vcpus[0]!.setProgram(function* (v) {
      yield* v.burn(30_000_000);
      yield v.block();
    });
    expect(h.engine.runUntilIdle(10 * SECOND)).toBe('idle');
    expect(h.engine.now).toBeLessThan(1 * SECOND);
    expect(d.state).toBe('blocked');
  });

  it('gives identical trace hashes for identical runs', () => {
    const run = (): string => {
      const h = makeHost(credit(), { cpus: 2 });
      const a = h.domains.create({ paused: false, vcpus: 3 });
      const b = h.domains.create({ paused: false, vcpus: 2 });
      h.pool.setDomainParams(b.domid, { weight: 128, cap: 60 });
      for (const v of a.vcpus) v.setProgram(spin);
      for (const v of b.vcpus)
        v.setProgram(function* (api) {
          for (;;) {
            api.compute(200_000);
            yield api.sleepFor(3 * MS);
          }
        });
      h.engine.runFor(500 * MS);
      return h.engine.trace.hash;
    };
    expect(run()).toBe(run());
  });

  it('validates per-domain parameters', () => {
    const h = makeHost(credit());
    const d = h.domains.create();
    expect(h.pool.getDomainParams(d.domid)).toEqual({ weight: 256, cap: 0 });
    expect(() => h.pool.setDomainParams(d.domid, { weight: 0 })).toThrow(/weight must be 1..65535/);
    expect(() => h.pool.setDomainParams(d.domid, { weight: 70000 })).toThrow(GuestError);
    expect(() => h.pool.setDomainParams(d.domid, { cap: -1 })).toThrow(/cap must be/);
    expect(() => h.pool.setDomainParams(d.domid, { slice: 3 })).toThrow(/unknown parameter "slice"/);
    h.pool.setDomainParams(d.domid, { weight: 1024, cap: 150 });
    expect(h.pool.getDomainParams(d.domid)).toEqual({ weight: 1024, cap: 150 });
    expect(() => h.pool.getDomainParams(d.domid + 7 as never)).toThrow(/no domain/);
  });

  it('dumps its state', () => {
    const h = makeHost(credit());
    const d = h.domains.create({ paused: false });
    d.vcpus[0]!.setProgram(spin);
    h.engine.runFor(100 * MS);
    expect(h.pool.dump()).toMatch(/credit: tslice 30 ms[\s\S]*dom1: weight 256 cap 0[\s\S]*vcpu0: pri/);
  });
});

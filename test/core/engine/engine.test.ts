import { describe, expect, it } from 'vitest';
import { Engine, Rng, Trace, TraceKind, makeCostModel, DEFAULT_COST_MODEL, RealtimePacer, type HostClock } from '../../../core/engine/index.js';

describe('Engine', () => {
  it('advances virtual time only through events', () => {
    const e = new Engine();
    const times: number[] = [];
    e.after(100, (t) => times.push(t));
    e.at(50, (t) => {
      times.push(t);
      e.after(10, (t2) => times.push(t2));
    });
    expect(e.runUntil(1000)).toBe('limit');
    expect(times).toEqual([50, 60, 100]);
    expect(e.now).toBe(1000);
    expect(e.eventCount).toBe(3);
  });

  it('refuses to schedule in the past', () => {
    const e = new Engine();
    e.runUntil(10);
    expect(() => e.at(5, () => {})).toThrow(/already 10 ns/);
  });

  it('returns from a run when an event calls stop()', () => {
    const e = new Engine();
    e.at(5, () => e.stop());
    e.at(6, () => {});
    expect(e.runUntil(100)).toBe('stopped');
    expect(e.now).toBe(5);
    expect(e.runUntilIdle()).toBe('idle');
    expect(e.now).toBe(6);
  });

  it('converts cycles to nanoseconds at the model clock', () => {
    const e = new Engine({ cost: makeCostModel({ cpuMhz: 2000 }) });
    expect(e.cyclesToNs(3000)).toBe(1500);
  });
});

describe('cost model', () => {
  it('rejects unknown and negative costs by name', () => {
    expect(() => makeCostModel({ vmexit: 1 })).toThrow(/unknown cost "vmexit"/);
    expect(() => makeCostModel({ vmExit: -1 })).toThrow(/"vmExit" must be a non-negative/);
    expect(makeCostModel({ vmExit: 2000 }).vmExit).toBe(2000);
    expect(makeCostModel().hypercall).toBe(DEFAULT_COST_MODEL.hypercall);
  });
});

describe('Rng', () => {
  it('repeats for the same seed and differs for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
  });

  it('gives a named fork the same stream whatever was drawn before', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    b.nextU32();
    b.fork('other').nextU32();
    expect(a.fork('disk').nextU32()).toBe(b.fork('disk').nextU32());
    expect(a.fork('disk').nextU32()).not.toBe(a.fork('net').nextU32());
  });

  it('draws bounded integers in range', () => {
    const r = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const x = r.nextInt(6);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(6);
    }
  });
});

describe('Trace', () => {
  it('hashes equal record sequences equally and any difference differently', () => {
    const make = (tweak: number) => {
      const t = new Trace();
      t.record(10, TraceKind.Hypercall, 1, 0, 29, 0, 0);
      t.record(20, TraceKind.EvtchnSend, 1, 0, 5 + tweak);
      return t;
    };
    expect(make(0).hash).toBe(make(0).hash);
    expect(make(0).hash).not.toBe(make(1).hash);
    expect(make(0).hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('distinguishes times that differ only above 32 bits', () => {
    const a = new Trace();
    const b = new Trace();
    a.record(1, TraceKind.Timer, 0, 0);
    b.record(1 + 2 ** 32, TraceKind.Timer, 0, 0);
    expect(a.hash).not.toBe(b.hash);
  });

  it('counts by kind and keeps the most recent records', () => {
    const t = new Trace();
    t.keepRecent(2);
    for (let i = 0; i < 5; i++) t.record(i, TraceKind.Interrupt, 0, 0, i);
    t.record(9, TraceKind.VmExit, 1, 0);
    expect(t.count(TraceKind.Interrupt)).toBe(5);
    expect(t.count()).toBe(6);
    expect(t.counters()).toEqual({ Interrupt: 5, VmExit: 1 });
    expect(t.recentRecords().map((r) => r.time)).toEqual([4, 9]);
  });

  it('hands every record to its sinks with its fields, and keeps its own copies of the recent ones', () => {
    const t = new Trace();
    const seen: string[] = [];
    const stop = t.subscribe((r) => seen.push(`${r.time}:${r.kind}:${r.domid}:${r.vcpu}:${r.a}:${r.b}:${r.c}`));
    t.record(1, TraceKind.Hypercall, 3, 1, 29, 4, -2);
    t.record(2, TraceKind.Timer, 4, 0);
    t.keepRecent(4);
    t.record(3, TraceKind.Ipi, 5, 2, 7);
    t.record(4, TraceKind.VmExit, 6, 3, 8, 9);
    stop();
    t.record(5, TraceKind.Trap, 7, 0);
    expect(seen).toEqual(['1:1:3:1:29:4:-2', '2:10:4:0:0:0:0', '3:11:5:2:7:0:0', '4:2:6:3:8:9:0']);
    expect(t.recentRecords().map((r) => [r.time, r.domid, r.a])).toEqual([[3, 5, 7], [4, 6, 8], [5, 7, 0]]);
  });
});

describe('RealtimePacer', () => {
  it('runs events as the (fake) wall clock reaches them', () => {
    let wall = 0;
    const timers: (() => void)[] = [];
    const clock: HostClock = { nowNs: () => wall, setTimer: (_ms, fn) => (timers.push(fn), () => {}) };
    const e = new Engine();
    const fired: number[] = [];
    e.at(1_000_000, (t) => fired.push(t));
    e.at(5_000_000, (t) => fired.push(t));
    const pacer = new RealtimePacer(e, clock);
    pacer.start();
    expect(fired).toEqual([]);
    wall = 2_000_000;
    timers.shift()!();
    expect(fired).toEqual([1_000_000]);
    expect(e.now).toBe(2_000_000);
    wall = 6_000_000;
    timers.shift()!();
    expect(fired).toEqual([1_000_000, 5_000_000]);
    pacer.stop();
  });
});

describe('RealtimePacer stopped by an event', () => {
  it('does not run past the event that stopped it', () => {
    let wall = 0;
    const timers: (() => void)[] = [];
    const clock: HostClock = { nowNs: () => wall, setTimer: (_ms, fn) => (timers.push(fn), () => {}) };
    const e = new Engine();
    const pacer = new RealtimePacer(e, clock);
    const fired: number[] = [];
    e.at(1_000, () => {
      e.stop();
      pacer.stop();
    });
    e.at(2_000, (t) => fired.push(t));
    pacer.start();
    wall = 10_000;
    timers.shift()!();
    expect(e.now).toBe(1_000);
    expect(fired).toEqual([]);
    expect(timers).toHaveLength(0);
  });
});

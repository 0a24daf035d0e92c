import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine, makeCostModel } from '../../../core/engine/index.js';
import { HPET_FREQUENCY_HZ, PlatformClock, Tsc } from '../../../core/timer/index.js';
import { pcpuId } from '../../../core/public/types.js';

const cpu0 = pcpuId(0);
const cpu1 = pcpuId(1);

describe('Tsc', () => {
  it('counts at the cost model clock by default', () => {
    const engine = new Engine({ cost: makeCostModel({ cpuMhz: 2400 }) });
    const tsc = new Tsc(engine);
    expect(tsc.khz).toBe(2_400_000);
    engine.runUntil(1000);
    expect(tsc.read(cpu0)).toBe(2400n);
  });

  it('stays exact at large virtual times (property against bigint arithmetic)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.bigInt({ min: 0n, max: 2n ** 52n }), (khz, ns) => {
        const engine = new Engine();
        const tsc = new Tsc(engine, { khz });
        expect(tsc.read(cpu0, Number(ns))).toBe((ns * BigInt(khz)) / 1_000_000n);
      }),
    );
    // A year of virtual time at 3 GHz: beyond 2^53 cycles, still exact.
    const engine = new Engine();
    const tsc = new Tsc(engine, { khz: 3_000_000 });
    const year = 365 * 24 * 3600 * 1e9;
    expect(tsc.read(cpu0, year)).toBe(94_608_000_000_000_000n);
  });

  it('keeps a per-CPU offset and makes a written value read back at once', () => {
    const engine = new Engine();
    const tsc = new Tsc(engine, { khz: 1_000_000 });
    engine.runUntil(500);
    tsc.write(cpu1, 10_000n);
    expect(tsc.read(cpu1)).toBe(10_000n);
    expect(tsc.read(cpu0)).toBe(500n);
    engine.runUntil(600);
    expect(tsc.read(cpu1)).toBe(10_100n);
    expect(tsc.offsetOf(cpu1)).toBe(9_500n);
  });

  it('wraps modulo 2^64 like the hardware counter', () => {
    const engine = new Engine();
    const tsc = new Tsc(engine, { khz: 1_000_000 });
    tsc.setOffset(cpu0, 2n ** 64n - 5n);
    expect(tsc.read(cpu0, 10)).toBe(5n);
  });

  it('finds the earliest time a value is reached', () => {
    const engine = new Engine();
    const tsc = new Tsc(engine, { khz: 3_000_000 });
    expect(tsc.nsWhen(cpu0, 3000n)).toBe(1000);
    expect(tsc.nsWhen(cpu0, 3001n)).toBe(1001);
    expect(tsc.read(cpu0, 1001)).toBeGreaterThanOrEqual(3001n);
    expect(tsc.read(cpu0, 1000)).toBeLessThan(3001n);
    engine.runUntil(5000);
    expect(tsc.nsWhen(cpu0, 1n)).toBe(5000);
  });

  it('rejects a fractional or zero frequency', () => {
    expect(() => new Tsc(new Engine(), { khz: 0 })).toThrow(/positive whole number/);
    expect(() => new Tsc(new Engine(), { khz: 1.5 })).toThrow(/positive whole number/);
  });
});

describe('PlatformClock', () => {
  it('counts at the HPET frequency from virtual time', () => {
    const engine = new Engine();
    const clock = new PlatformClock(engine);
    expect(clock.frequencyHz).toBe(HPET_FREQUENCY_HZ);
    expect(clock.periodFs).toBe(69_841_279);
    engine.runUntil(1e9);
    expect(clock.read()).toBe(14_318_180n);
    expect(clock.read(1e12)).toBe(14_318_180_000n);
  });

  it('is monotonic and inverts with nsWhen', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 1e6 }), (a, d) => {
        const clock = new PlatformClock(new Engine(), { frequencyHz: 10_000_000 });
        expect(clock.read(a + d) >= clock.read(a)).toBe(true);
        const count = clock.read(a);
        const t = clock.nsWhen(count);
        expect(clock.read(t)).toBe(count);
        expect(t === 0 || clock.read(t - 1) < count).toBe(true);
      }),
    );
  });
});

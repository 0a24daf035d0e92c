import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine } from '../../../core/engine/index.js';
import { TimerService } from '../../../core/timer/index.js';
import { pcpuId } from '../../../core/public/types.js';

describe('TimerService', () => {
  it('fires a one-shot timer exactly at its expiry and disarms it', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const fired: number[] = [];
    const t = timers.initTimer((now) => fired.push(now), pcpuId(0));
    expect(t.active).toBe(false);
    t.set(1500);
    expect(t.active).toBe(true);
    expect(t.expires).toBe(1500);
    engine.runUntil(10_000);
    expect(fired).toEqual([1500]);
    expect(t.active).toBe(false);
    expect(timers.pending).toBe(0);
  });

  it('moves a re-set timer and forgets a stopped one', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const fired: string[] = [];
    const a = timers.initTimer((now) => fired.push(`a@${now}`), pcpuId(0));
    const b = timers.initTimer((now) => fired.push(`b@${now}`), pcpuId(0));
    a.set(100);
    b.set(200);
    a.set(300);
    b.stop();
    engine.runUntil(1000);
    expect(fired).toEqual(['a@300']);
  });

  it('runs a timer set in the past at once', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    engine.runUntil(500);
    const fired: number[] = [];
    timers.initTimer((now) => fired.push(now), pcpuId(0)).set(100);
    engine.runUntil(500);
    expect(fired).toEqual([500]);
  });

  it('lets a periodic timer re-arm itself from its callback', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const fired: number[] = [];
    const tick = timers.initTimer((now, self) => {
      fired.push(now);
      if (fired.length < 4) self.set(now + 250);
    }, pcpuId(1));
    tick.set(250);
    engine.runUntilIdle();
    expect(fired).toEqual([250, 500, 750, 1000]);
  });

  it('orders timers due at the same instant by expiry, CPU and creation, whatever order they were set in', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 12 }).chain((specs) =>
        fc.tuple(fc.constant(specs), fc.shuffledSubarray(specs.map((_, i) => i), { minLength: specs.length })),
      ), ([specs, setOrder]) => {
        const engine = new Engine();
        const timers = new TimerService(engine);
        const fired: number[] = [];
        const ts = specs.map(([cpu], i) => timers.initTimer(() => fired.push(i), pcpuId(cpu)));
        for (const i of setOrder) ts[i]!.set(1000 + specs[i]![1] * 10);
        engine.runUntil(2000);
        const expected = specs
          .map(([cpu, e], i) => ({ cpu, e, i }))
          .sort((x, y) => x.e - y.e || x.cpu - y.cpu || x.i - y.i)
          .map((x) => x.i);
        expect(fired).toEqual(expected);
      }),
    );
  });


  it('keeps that order through many re-sets, stops, migrations and firings of a deep heap', () => {
    // Op: [timer, expiry step, −1 to stop or −2 to migrate to the next CPU]; every op runs at its own instant, so timers fire in between.
    const op = fc.tuple(fc.integer({ min: 0, max: 199 }), fc.integer({ min: -2, max: 40 }));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 200, maxLength: 200 }), fc.array(op, { minLength: 50, maxLength: 600 }), (cpus, ops) => {
        const engine = new Engine();
        const timers = new TimerService(engine);
        const fired: [number, number][] = [];
        const model = new Map<number, number>();
        const ts = cpus.map((cpu, i) => timers.initTimer((now) => (fired.push([now, i]), model.delete(i)), pcpuId(cpu)));
        const expectFiring = (until: number): [number, number][] =>
          [...model]
            .filter(([, e]) => e <= until)
            .sort(([i, a], [j, b]) => a - b || cpus[i]! - cpus[j]! || i - j)
            .map(([i, e]) => [e, i]);
        let now = 0;
        for (const [i, step] of ops) {
          const expected = expectFiring(now);
          fired.length = 0;
          engine.runUntil(now);
          expect(fired).toEqual(expected);
          if (step === -2) {
            cpus[i] = (cpus[i]! + 1) % 4;
            ts[i]!.migrate(pcpuId(cpus[i]!));
          } else if (step < 0) {
            ts[i]!.stop();
            model.delete(i);
          } else {
            ts[i]!.set(now + step * 7);
            model.set(i, now + step * 7);
          }
          expect(timers.pending).toBe(model.size);
          now += 5;
        }
      }),
      { numRuns: 60 },
    );
  });
  it('does not run a due timer that an earlier one in the same batch stopped', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const fired: string[] = [];
    const victim = timers.initTimer(() => fired.push('victim'), pcpuId(1));
    const killer = timers.initTimer(() => {
      fired.push('killer');
      victim.stop();
    }, pcpuId(0));
    victim.set(100);
    killer.set(100);
    engine.runUntil(200);
    expect(fired).toEqual(['killer']);
  });

  it('migrates a timer to another CPU, keeping its expiry and changing its place among ties', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const fired: string[] = [];
    const a = timers.initTimer((_n, t) => fired.push(`a/cpu${t.cpu}`), pcpuId(0));
    const b = timers.initTimer((_n, t) => fired.push(`b/cpu${t.cpu}`), pcpuId(1));
    a.set(50);
    b.set(50);
    a.migrate(pcpuId(2));
    engine.runUntil(100);
    expect(fired).toEqual(['b/cpu1', 'a/cpu2']);
  });

  it('hands each timer its data, so one function serves many timers (Xen init_timer data)', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const fired: string[] = [];
    const fn = (now: number, t: { data: unknown }) => fired.push(`${String(t.data)}@${now}`);
    const a = timers.initTimer(fn, pcpuId(0), 'vcpu0');
    const b = timers.initTimer(fn, pcpuId(1), 'vcpu1');
    b.set(200);
    a.set(300);
    a.stop();
    expect(a.expires).toBeUndefined();
    a.set(100);
    engine.runUntil(1000);
    expect(fired).toEqual(['vcpu0@100', 'vcpu1@200']);
    expect(a.expires).toBeUndefined();
  });

  it('gives a killed timer\'s slot to the next timer made, and the old entry never fires the newcomer', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const fired: string[] = [];
    const old = timers.initTimer(() => fired.push('old'), pcpuId(0));
    old.set(100);
    old.kill();
    // Same slot, and its first generation may equal the stale entry's: the entry's order (CPU, id) tells them apart.
    const fresh = timers.initTimer((now) => fired.push(`fresh@${now}`), pcpuId(0));
    fresh.set(500);
    engine.runUntil(300);
    expect(fired).toEqual([]);
    engine.runUntil(1000);
    expect(fired).toEqual(['fresh@500']);
    expect(timers.pending).toBe(0);
  });

  it('refuses to set a killed timer, naming it', () => {
    const timers = new TimerService(new Engine());
    const t = timers.initTimer(() => {}, pcpuId(0));
    t.set(10);
    t.kill();
    expect(t.active).toBe(false);
    expect(() => t.set(20)).toThrow(/timer \d+ on cpu0: set after kill/);
    expect(() => timers.initTimer(() => {}, pcpuId(0)).set(Infinity)).toThrow(/expiry must be finite, got Infinity/);
  });

  it('keeps its queue bounded when timers are re-set many times', () => {
    const engine = new Engine();
    const timers = new TimerService(engine);
    const t = timers.initTimer(() => {}, pcpuId(0));
    for (let i = 0; i < 10_000; i++) t.set(1e9 - i);
    expect(timers.pending).toBe(1);
    expect(timers.queueLength).toBeLessThan(100);
  });

  it('exposes the platform clock and TSC it was configured with', () => {
    const timers = new TimerService(new Engine(), { tscKhz: 1_000_000, platformClockHz: 1_000_000 });
    expect(timers.tsc.khz).toBe(1_000_000);
    expect(timers.platformClock.frequencyHz).toBe(1_000_000);
  });
});

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../core/engine/index.js';
import { APIC_LVTT, APIC_TDCR, APIC_TMCCT, APIC_TMICT, LocalApic, timerDivisor, APIC_SPIV } from '../../../core/apic/index.js';
import { Tsc } from '../../../core/timer/index.js';
import { pcpuId } from '../../../core/public/types.js';
import { machine } from './machine.js';

const DIV_1 = 0xb;
const DIV_2 = 0x0;
const PERIODIC = 1 << 17;
const TSC_DEADLINE = 2 << 17;
const MASKED = 1 << 16;

/** Records the virtual times at which the APIC's timer vector becomes deliverable, acknowledging each. */
function firings(apic: LocalApic, engine: Engine): number[] {
  const times: number[] = [];
  apic.events.on('interrupt', () => {
    times.push(engine.now);
    apic.acknowledge();
    apic.eoi();
  });
  return times;
}

describe('APIC timer', () => {
  it('decodes every divide configuration', () => {
    const expected = [2, 4, 8, 16, 32, 64, 128, 1];
    for (let v = 0; v < 8; v++) expect(timerDivisor(((v & 4) << 1) | (v & 3))).toBe(expected[v]);
  });

  it('fires a one-shot count exactly when it reaches zero, and reads back mid-count', () => {
    const { engine, apics } = machine(1);
    const apic = apics[0]!;
    const times = firings(apic, engine);
    apic.writeRegister(APIC_TDCR, DIV_1);
    apic.writeRegister(APIC_LVTT, 0x40);
    apic.writeRegister(APIC_TMICT, 1000); // 1000 ticks at 100 MHz = 10 µs
    engine.runUntil(2_500);
    expect(apic.readRegister(APIC_TMCCT)).toBe(750);
    engine.runUntil(9_999);
    expect(times).toEqual([]);
    expect(apic.readRegister(APIC_TMCCT)).toBe(1);
    engine.runUntil(100_000);
    expect(times).toEqual([10_000]);
    expect(apic.readRegister(APIC_TMCCT)).toBe(0);
    expect(apic.readRegister(APIC_TMICT)).toBe(1000);
  });

  it('reloads in periodic mode without drift and reads back within each period', () => {
    const { engine, apics } = machine(1);
    const apic = apics[0]!;
    const times = firings(apic, engine);
    apic.writeRegister(APIC_TDCR, DIV_2);
    apic.writeRegister(APIC_LVTT, PERIODIC | 0x41);
    apic.writeRegister(APIC_TMICT, 500); // 500 × 2 / 100 MHz = 10 µs
    engine.runUntil(35_000);
    expect(times).toEqual([10_000, 20_000, 30_000]);
    expect(apic.readRegister(APIC_TMCCT)).toBe(250);
  });

  it('schedules on whole tick boundaries when a tick is not a whole number of nanoseconds', () => {
    const { engine, apics } = machine(1, {}, { busHz: 3_000_000 });
    const apic = apics[0]!;
    const times = firings(apic, engine);
    apic.writeRegister(APIC_TDCR, DIV_1);
    apic.writeRegister(APIC_LVTT, PERIODIC | 0x41);
    apic.writeRegister(APIC_TMICT, 1); // 333.3 ns per period
    engine.runUntil(1_000_000);
    expect(times).toHaveLength(3000);
    expect(times[2]).toBe(1000);
    expect(times[2999]).toBe(1_000_000);
    expect(times[0]).toBe(334);
  });

  it('uses the divide configuration to slow the count', () => {
    const { engine, apics } = machine(1);
    const apic = apics[0]!;
    const times = firings(apic, engine);
    apic.writeRegister(APIC_TDCR, 0xa); // divide by 128
    apic.writeRegister(APIC_LVTT, 0x40);
    apic.writeRegister(APIC_TMICT, 10);
    engine.runUntil(1_000_000);
    expect(times).toEqual([12_800]);
  });

  it('continues a running count from its current value when the divider changes', () => {
    const { engine, apics } = machine(1);
    const apic = apics[0]!;
    const times = firings(apic, engine);
    apic.writeRegister(APIC_TDCR, DIV_1);
    apic.writeRegister(APIC_LVTT, 0x40);
    apic.writeRegister(APIC_TMICT, 1000);
    engine.runUntil(5_000);
    apic.writeRegister(APIC_TDCR, DIV_2);
    expect(apic.readRegister(APIC_TMCCT)).toBe(500);
    engine.runUntil(100_000);
    expect(times).toEqual([15_000]);
  });

  it('counts but raises nothing while the LVT timer is masked', () => {
    const { engine, apics } = machine(1);
    const apic = apics[0]!;
    const times = firings(apic, engine);
    apic.writeRegister(APIC_TDCR, DIV_1);
    apic.writeRegister(APIC_LVTT, MASKED | PERIODIC | 0x40);
    apic.writeRegister(APIC_TMICT, 100);
    engine.runUntil(2_500);
    expect(times).toEqual([]);
    expect(apic.readRegister(APIC_TMCCT)).toBe(50);
    apic.writeRegister(APIC_LVTT, PERIODIC | 0x40);
    engine.runUntil(3_000);
    expect(times).toEqual([3_000]);
  });

  it('stops when the initial count is written with 0', () => {
    const { engine, apics } = machine(1);
    const apic = apics[0]!;
    const times = firings(apic, engine);
    apic.writeRegister(APIC_LVTT, PERIODIC | 0x40);
    apic.writeRegister(APIC_TMICT, 100);
    engine.runUntil(1_000);
    apic.writeRegister(APIC_TMICT, 0);
    expect(apic.timer.armed).toBe(false);
    engine.runUntil(1_000_000);
    expect(times).toEqual([]);
    expect(apic.readRegister(APIC_TMCCT)).toBe(0);
  });

  it('fires at a TSC deadline, ignores TMICT in that mode, and disarms on a mode switch', () => {
    const engine = new Engine();
    const tsc = new Tsc(engine, { khz: 2_000_000 });
    const apic = new LocalApic(engine, { apicId: 0, tsc: tsc.forCpu(pcpuId(0)) });
    apic.writeRegister(APIC_SPIV, 0x1ff);
    const times = firings(apic, engine);
    apic.writeRegister(APIC_LVTT, TSC_DEADLINE | 0x42);
    apic.writeRegister(APIC_TMICT, 5);
    expect(apic.readRegister(APIC_TMICT)).toBe(0);
    apic.writeMsr(0x6e0, 4001n);
    expect(apic.readMsr(0x6e0)).toBe(4001n);
    engine.runUntil(10_000);
    expect(times).toEqual([2001]);
    expect(apic.readMsr(0x6e0)).toBe(0n);

    apic.writeMsr(0x6e0, 100_000n);
    apic.writeRegister(APIC_LVTT, 0x42);
    engine.runUntil(1_000_000);
    expect(times).toEqual([2001]);
  });
});

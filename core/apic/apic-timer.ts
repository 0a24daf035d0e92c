/** The local APIC timer: one-shot, periodic and TSC-deadline modes, computed from virtual time rather than ticked. */
import type { Engine } from '../engine/engine.js';
import type { EventHandle } from '../engine/event-queue.js';
import type { TscView } from '../timer/tsc.js';
import { TimerMode } from './apic-defs.js';

/** The default APIC bus (timer input) frequency, 100 MHz. */
export const DEFAULT_APIC_BUS_HZ = 100_000_000;
const NS_PER_S = 1_000_000_000n;

/** The divisor selected by the divide configuration register (bits 3, 1:0): 2, 4, ..., 128, or 1 for 0b111. */
export function timerDivisor(tdcr: number): number {
  const v = ((tdcr & 8) >>> 1) | (tdcr & 3);
  return v === 7 ? 1 : 2 << v;
}

/**
 * The count-down timer. While counting, the count at virtual time t is derived from the moment it
 * was loaded: `ticks = floor((t − base) × busHz / (divisor × 10⁹))`. Expiries fall on ticks
 * `baseCount + j × initialCount` (j = 0, 1, … in periodic mode), each scheduled as one engine event.
 */
export class ApicTimer {
  private initial = 0;
  private tdcr = 0;
  private timerMode: TimerMode = TimerMode.OneShot;
  private deadline = 0n;
  private counting = false;
  private base = 0;
  private baseCount = 0;
  private expiries = 0;
  private event: EventHandle | undefined;
  private readonly busHz: bigint;

  constructor(
    private readonly engine: Engine,
    busHz: number,
    private readonly onExpire: () => void,
    private readonly tsc?: TscView,
  ) {
    this.busHz = BigInt(busHz);
  }

  /** The initial-count register (TMICT). */
  get initialCount(): number {
    return this.initial;
  }

  /** The divide configuration register (TDCR). */
  get divideConfig(): number {
    return this.tdcr;
  }

  get mode(): TimerMode {
    return this.timerMode;
  }

  /** IA32_TSC_DEADLINE: the armed deadline, 0 when disarmed. */
  get tscDeadline(): bigint {
    return this.deadline;
  }

  /** True while an expiry is scheduled. */
  get armed(): boolean {
    return this.event !== undefined;
  }

  /** Writing TMICT: loads the count and starts counting; 0 stops the timer. Ignored in TSC-deadline mode. */
  setInitialCount(count: number): void {
    if (this.timerMode === TimerMode.TscDeadline) return;
    this.initial = count >>> 0;
    this.cancel();
    if (this.initial === 0) return;
    this.startCounting(this.initial);
  }

  /** The current-count register (TMCCT). */
  currentCount(now: number = this.engine.now): number {
    if (!this.counting || this.timerMode === TimerMode.TscDeadline) return 0;
    const n = this.ticksSince(now);
    if (n < this.baseCount) return this.baseCount - n;
    if (this.timerMode !== TimerMode.Periodic) return 0;
    return this.initial - ((n - this.baseCount) % this.initial);
  }

  /** Writing TDCR. A running count continues from its current value at the new rate. */
  setDivideConfig(tdcr: number): void {
    const value = tdcr & 0xb;
    if (value === this.tdcr) return;
    const current = this.counting ? this.currentCount() : 0;
    this.tdcr = value;
    if (this.counting) this.restartFrom(current);
  }

  /** The LVT timer's mode field changed. Entering or leaving TSC-deadline mode disarms the timer. */
  setMode(mode: TimerMode): void {
    if (mode === this.timerMode) return;
    const deadlineSwitch = mode === TimerMode.TscDeadline || this.timerMode === TimerMode.TscDeadline;
    const current = this.counting ? this.currentCount() : 0;
    this.timerMode = mode;
    if (deadlineSwitch) {
      this.stop();
      return;
    }
    if (this.counting) this.restartFrom(current);
  }

  /** Writing IA32_TSC_DEADLINE (only in TSC-deadline mode; 0 disarms). */
  setTscDeadline(value: bigint): void {
    if (this.timerMode !== TimerMode.TscDeadline || this.tsc === undefined) return;
    this.cancel();
    this.deadline = BigInt.asUintN(64, value);
    if (this.deadline === 0n) return;
    this.event = this.engine.at(this.tsc.nsWhen(this.deadline), () => {
      this.event = undefined;
      this.deadline = 0n;
      this.onExpire();
    });
  }

  /** Power-up / INIT state: stopped, counts and divider zero, one-shot mode. */
  reset(): void {
    this.stop();
    this.tdcr = 0;
    this.timerMode = TimerMode.OneShot;
  }

  /** Stops counting and clears TMICT and the deadline. */
  stop(): void {
    this.cancel();
    this.initial = 0;
    this.deadline = 0n;
  }

  private startCounting(count: number): void {
    this.counting = true;
    this.base = this.engine.now;
    this.baseCount = count;
    this.expiries = 0;
    this.scheduleNext();
  }

  private restartFrom(current: number): void {
    this.cancel();
    if (current > 0) this.startCounting(current);
  }

  private cancel(): void {
    if (this.event !== undefined) this.engine.cancel(this.event);
    this.event = undefined;
    this.counting = false;
  }

  private divisor(): bigint {
    return BigInt(timerDivisor(this.tdcr));
  }

  private ticksSince(now: number): number {
    const elapsed = BigInt(Math.floor(now - this.base));
    return Number((elapsed * this.busHz) / (this.divisor() * NS_PER_S));
  }

  /** Virtual time at which tick `n` (counted from the base) is reached. */
  private timeOfTick(n: number): number {
    const scaled = BigInt(n) * this.divisor() * NS_PER_S;
    return this.base + Number((scaled + this.busHz - 1n) / this.busHz);
  }

  private scheduleNext(): void {
    const tick = this.baseCount + this.expiries * this.initial;
    this.event = this.engine.at(this.timeOfTick(tick), this.expire);
  }

  private readonly expire = (): void => {
    this.event = undefined;
    this.expiries++;
    if (this.timerMode === TimerMode.Periodic) this.scheduleNext();
    else this.counting = false;
    this.onExpire();
  };
}

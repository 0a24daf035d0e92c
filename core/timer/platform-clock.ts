/** The platform clock: an HPET-like free-running 64-bit main counter at a fixed frequency, read from virtual time. */
import { HardwareError } from '../api/errors.js';
import type { Engine } from '../engine/engine.js';

/** The classic HPET main-counter frequency (14.31818 MHz, the PC's crystal). */
export const HPET_FREQUENCY_HZ = 14_318_180;
const NS_PER_S = 1_000_000_000n;
const FS_PER_S = 1e15;

export interface PlatformClockOptions {
  /** Counter frequency in Hz (a whole number); default {@link HPET_FREQUENCY_HZ}. */
  frequencyHz?: number;
}

/**
 * A monotonic counter: `floor(ns × frequencyHz / 10⁹)`, exact at any virtual time. It never ticks:
 * reading it computes the value, so it costs nothing while nobody looks.
 */
export class PlatformClock {
  readonly frequencyHz: number;
  /** The HPET's COUNTER_CLK_PERIOD (capabilities bits 63:32): femtoseconds per tick, rounded. */
  readonly periodFs: number;
  private readonly hz: bigint;

  constructor(
    private readonly engine: Engine,
    options: PlatformClockOptions = {},
  ) {
    const hz = options.frequencyHz ?? HPET_FREQUENCY_HZ;
    if (!Number.isSafeInteger(hz) || hz <= 0) throw new HardwareError('clock-frequency', `platform clock: frequency must be a positive whole number of Hz, got ${hz}`);
    this.frequencyHz = hz;
    this.hz = BigInt(hz);
    this.periodFs = Math.round(FS_PER_S / hz);
  }

  /** The main counter now (or at virtual time `atNs`). */
  read(atNs: number = this.engine.now): bigint {
    return (BigInt(Math.floor(atNs)) * this.hz) / NS_PER_S;
  }

  /** The earliest virtual time (whole ns) at which the counter reaches `count`. */
  nsWhen(count: bigint): number {
    if (count <= 0n) return 0;
    return Number((count * NS_PER_S + this.hz - 1n) / this.hz);
  }
}

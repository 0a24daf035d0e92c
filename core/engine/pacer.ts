/**
 * Pacing: how virtual time relates to the wall clock. This file is outside the simulation: it decides
 * when to advance the engine, never what happens in it, so reading the host's monotonic clock here
 * does not make runs depend on it (the same events happen at the same virtual times either way).
 */
import type { Engine } from './engine.js';

export type PacingMode = 'afap' | 'realtime';

/** The host's monotonic clock, in nanoseconds. Injected so tests can drive it. */
export interface HostClock {
  nowNs(): number;
  /** Calls `fn` after about `ms` milliseconds of wall time; returns a canceller. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The real monotonic clock of this process. */
export const systemHostClock: HostClock = {
  nowNs: () => Number(process.hrtime.bigint()),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/**
 * Keeps virtual time in step with the wall clock (times `speed`) for an interactive host: events run
 * when their virtual time comes due; when nothing is due, it sleeps until the next event or a poke.
 */
export class RealtimePacer {
  private running = false;
  private cancelTimer: (() => void) | null = null;
  private wallStart = 0;
  private virtualStart = 0;

  constructor(
    private readonly engine: Engine,
    private readonly clock: HostClock = systemHostClock,
    private readonly speed = 1,
    /** Longest wall sleep between checks, in ms, so external inputs are never left waiting long. */
    private readonly maxSleepMs = 50,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.wallStart = this.clock.nowNs();
    this.virtualStart = this.engine.now;
    this.tick();
  }

  stop(): void {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  /** Runs what is due now; call after an external input was queued. */
  poke(): void {
    if (!this.running) return;
    this.cancelTimer?.();
    this.tick();
  }

  private tick = (): void => {
    this.cancelTimer = null;
    if (!this.running) return;
    const target = this.virtualStart + (this.clock.nowNs() - this.wallStart) * this.speed;
    if (target > this.engine.now) this.engine.runUntil(target);
    if (!this.running) return; // an event stopped the pacer
    const next = this.engine.queue.peekTime();
    const waitMs = next === Infinity ? this.maxSleepMs : Math.min(this.maxSleepMs, Math.max(0, (next - this.engine.now) / this.speed / 1e6));
    this.cancelTimer = this.clock.setTimer(waitMs, this.tick);
  };
}

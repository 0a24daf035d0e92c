/** The simulation engine: virtual time, the event queue, the seeded random source, the trace and the cost model. */
import { EventQueue, type EventCallback, type EventHandle } from './event-queue.js';
import { Rng } from './rng.js';
import { Trace } from './trace.js';
import { type CostModel, DEFAULT_COST_MODEL, cyclesToNs } from './cost-model.js';

export interface EngineOptions {
  seed?: number;
  cost?: CostModel;
}

/** What a run loop stopped on. */
export type StopReason = 'limit' | 'idle' | 'stopped';

/**
 * Owns virtual time. Nothing in the simulation reads the wall clock: time moves only when the engine
 * takes the next event. External inputs enter through {@link Engine.external} at the current time.
 */
export class Engine {
  readonly queue = new EventQueue();
  readonly trace = new Trace();
  readonly rng: Rng;
  readonly cost: CostModel;
  private current = 0;
  private stopRequested = false;
  private eventsRun = 0;
  private readonly advance = (time: number): void => {
    this.current = time;
  };

  constructor(options: EngineOptions = {}) {
    this.rng = new Rng(options.seed ?? 0);
    this.cost = options.cost ?? { ...DEFAULT_COST_MODEL };
  }

  /** Current virtual time in nanoseconds. */
  get now(): number {
    return this.current;
  }

  /** Events run since the engine was made. */
  get eventCount(): number {
    return this.eventsRun;
  }

  /** Runs `callback` at virtual time `time` (which must not be in the past). */
  at(time: number, callback: EventCallback): EventHandle {
    if (time < this.current) throw pastTime(time, this.current);
    return this.queue.push(time, callback);
  }

  /** Runs `callback` after `delay` nanoseconds of virtual time. */
  after(delay: number, callback: EventCallback): EventHandle {
    if (!(delay >= 0)) throw badDelay(delay);
    return this.queue.push(this.current + delay, callback);
  }

  cancel(handle: EventHandle): boolean {
    return this.queue.cancel(handle);
  }

  /**
   * Called after every {@link external} input is queued: a paced host sets it to wake its pacer, so
   * the input runs promptly instead of at the pacer's next tick.
   */
  onExternal: (() => void) | null = null;

  /** An input from outside the simulation (a socket request, a user's command), run at the current time. */
  external(callback: EventCallback): EventHandle {
    const handle = this.queue.push(this.current, callback);
    this.onExternal?.();
    return handle;
  }

  /** Nanoseconds that `cycles` take at the cost model's clock. */
  cyclesToNs(cycles: number): number {
    return cyclesToNs(this.cost, cycles);
  }

  /** Asks the running loop to return after the current event. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Runs every event up to and including `limit`, then sets the clock to `limit`. */
  runUntil(limit: number): StopReason {
    this.stopRequested = false;
    if (limit < this.current) return 'limit';
    for (;;) {
      // Run in batches so a stop() from inside an event takes effect promptly.
      const next = this.queue.peekTime();
      if (next > limit) break;
      this.eventsRun += this.queue.drainUntil(next, this.advance);
      if (this.stopRequested) return 'stopped';
    }
    this.current = limit;
    return 'limit';
  }

  /** Runs for `duration` nanoseconds of virtual time. */
  runFor(duration: number): StopReason {
    return this.runUntil(this.current + duration);
  }

  /** Runs until no event is pending (or `limit` is reached); the clock stays at the last event. */
  runUntilIdle(limit = Infinity): StopReason {
    this.stopRequested = false;
    for (;;) {
      const next = this.queue.peekTime();
      if (next === Infinity) return 'idle';
      if (next > limit) {
        this.current = limit;
        return 'limit';
      }
      this.eventsRun += this.queue.drainUntil(next, this.advance);
      if (this.stopRequested) return 'stopped';
    }
  }
}

// The messages are made in functions of their own: inlined, TurboFan merged the two conversions of
// `time` to a string (here and in the queue's push) into one before both checks, run on every call.
function pastTime(time: number, now: number): RangeError {
  return new RangeError(`cannot schedule at ${time} ns: virtual time is already ${now} ns`);
}

function badDelay(delay: number): RangeError {
  return new RangeError(`delay must be non-negative, got ${delay}`);
}

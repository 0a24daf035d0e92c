/** Per-CPU one-shot software timers in the manner of Xen's common/timer.c, driven by one engine event. */
import { HardwareError } from '../api/errors.js';
import type { Engine } from '../engine/engine.js';
import type { EventHandle } from '../engine/event-queue.js';
import type { PcpuId } from '../public/types.js';
import { PlatformClock, type PlatformClockOptions } from './platform-clock.js';
import { Tsc, type TscOptions } from './tsc.js';

/** What a timer runs when it expires: the virtual time and the timer itself. */
export type TimerFn = (now: number, timer: Timer) => void;

/** The scheduling side of {@link TimerService} that a {@link Timer} talks to. */
interface TimerQueue {
  arm(timer: Timer): void;
  disarm(timer: Timer): void;
}

/**
 * A one-shot timer bound to a CPU (Xen's `struct timer`). Made by {@link TimerService.initTimer}.
 * Setting an armed timer moves it; a timer set in the past fires at once (in the next engine event).
 */
export class Timer {
  private expiry: number | undefined;
  private killed = false;
  /** Bumped on every set/stop/kill so stale queue entries are ignored. @internal */
  generation = 0;

  /** @internal */
  constructor(
    private readonly queue: TimerQueue,
    readonly fn: TimerFn,
    private owner: PcpuId,
    /** Creation order; the last tie-breaker among timers due at once. */
    readonly id: number,
  ) {}

  /** The CPU the timer runs on. */
  get cpu(): PcpuId {
    return this.owner;
  }

  /** Absolute expiry (virtual ns) while armed. */
  get expires(): number | undefined {
    return this.expiry;
  }

  /** True while armed (Xen's `active_timer()`). */
  get active(): boolean {
    return this.expiry !== undefined;
  }

  /** Arms (or re-arms) the timer to fire at absolute virtual time `expires` (Xen's `set_timer()`). */
  set(expires: number): void {
    if (this.killed) throw new HardwareError('timer-killed', `timer ${this.id} on cpu${this.owner}: set after kill`);
    if (!Number.isFinite(expires)) throw new HardwareError('timer-expiry', `timer ${this.id} on cpu${this.owner}: expiry must be finite, got ${expires}`);
    this.expiry = expires;
    this.generation++;
    this.queue.arm(this);
  }

  /** Disarms the timer; it will not fire until set again (Xen's `stop_timer()`). */
  stop(): void {
    if (this.expiry === undefined) return;
    this.expiry = undefined;
    this.generation++;
    this.queue.disarm(this);
  }

  /** Moves the timer to `cpu`, keeping its expiry (Xen's `migrate_timer()`). */
  migrate(cpu: PcpuId): void {
    if (cpu === this.owner) return;
    this.owner = cpu;
    if (this.expiry !== undefined) {
      this.generation++;
      this.queue.arm(this);
    }
  }

  /** Stops the timer for good; a later `set()` throws (Xen's `kill_timer()`). */
  kill(): void {
    this.stop();
    this.killed = true;
  }

  /** @internal Called by the service when the timer is due. */
  fire(now: number): void {
    this.expiry = undefined;
    this.generation++;
    this.queue.disarm(this);
    this.fn(now, this);
  }
}

/** One queued arming of a timer; stale once the timer's generation moves on. */
interface Entry {
  expires: number;
  cpu: number;
  id: number;
  generation: number;
  timer: Timer;
}

function before(a: Entry, b: Entry): boolean {
  if (a.expires !== b.expires) return a.expires < b.expires;
  if (a.cpu !== b.cpu) return a.cpu < b.cpu;
  return a.id < b.id;
}

export interface TimerServiceOptions {
  /** TSC frequency in kHz; default the cost model's core clock. */
  tscKhz?: TscOptions['khz'];
  /** Platform clock frequency in Hz; default the HPET's 14.31818 MHz. */
  platformClockHz?: PlatformClockOptions['frequencyHz'];
}

/**
 * The host's time sources: the platform clock, the TSCs and software timers. Timers due at the same
 * instant run in a fixed order — by expiry, then CPU, then creation — whatever order they were set in.
 * One engine event stands for the earliest timer, like a timer softirq reprogramming the hardware timer.
 */
export class TimerService implements TimerQueue {
  readonly platformClock: PlatformClock;
  readonly tsc: Tsc;
  private heap: Entry[] = [];
  private readonly armed = new Set<Timer>();
  private nextId = 0;
  private event: EventHandle | undefined;
  private eventTime = Infinity;

  constructor(
    private readonly engine: Engine,
    options: TimerServiceOptions = {},
  ) {
    this.platformClock = new PlatformClock(engine, { frequencyHz: options.platformClockHz });
    this.tsc = new Tsc(engine, { khz: options.tscKhz });
  }

  /** Xen's NOW(): virtual time in ns. */
  get now(): number {
    return this.engine.now;
  }

  /** A new, unarmed timer that runs `fn` on `cpu` (Xen's `init_timer()`). */
  initTimer(fn: TimerFn, cpu: PcpuId): Timer {
    return new Timer(this, fn, cpu, this.nextId++);
  }

  /** Armed timers. */
  get pending(): number {
    return this.armed.size;
  }

  /** @internal */
  arm(timer: Timer): void {
    this.armed.add(timer);
    this.push({ expires: timer.expires!, cpu: timer.cpu, id: timer.id, generation: timer.generation, timer });
    if (this.heap.length > 64 && this.heap.length > 4 * this.armed.size) this.compact();
    this.reprogram();
  }

  /** @internal */
  disarm(timer: Timer): void {
    this.armed.delete(timer);
  }

  private readonly run = (now: number): void => {
    this.event = undefined;
    this.eventTime = Infinity;
    const due: Entry[] = [];
    while (this.heap.length > 0 && this.heap[0]!.expires <= now) {
      const entry = this.pop();
      if (entry.generation === entry.timer.generation) due.push(entry);
    }
    for (const entry of due) {
      // An earlier callback in this batch may have stopped, moved or re-set this timer.
      if (entry.generation === entry.timer.generation) entry.timer.fire(now);
    }
    this.reprogram();
  };

  private reprogram(): void {
    this.dropStaleTop();
    const top = this.heap[0];
    const when = top === undefined ? Infinity : Math.max(top.expires, this.engine.now);
    if (when === this.eventTime) return;
    if (this.event !== undefined) this.engine.cancel(this.event);
    this.event = when === Infinity ? undefined : this.engine.at(when, this.run);
    this.eventTime = when;
  }

  private dropStaleTop(): void {
    while (this.heap.length > 0 && this.heap[0]!.generation !== this.heap[0]!.timer.generation) this.pop();
  }

  private compact(): void {
    const live = this.heap.filter((e) => e.generation === e.timer.generation);
    this.heap = [];
    for (const e of live) this.push(e);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Entry {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
        if (!before(heap[c]!, last)) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

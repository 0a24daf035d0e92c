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
  /** Bumped on every set/stop/kill, so a due timer re-set by an earlier callback of its batch is left alone. @internal */
  generation = 0;
  /** Where the timer sits in the service's heap (−1: not queued). @internal */
  slot = -1;

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

/** Heap order among timers due at the same instant: by CPU, then creation. */
function tieBefore(a: Timer, b: Timer): boolean {
  if (a.cpu !== b.cpu) return a.cpu < b.cpu;
  return a.id < b.id;
}

/** Children per node of the timer heap: a shallow heap moves fewer timers per pop. */
const ARITY = 4;

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
  /**
   * Armed timers as a 4-ary heap ordered by expiry, then CPU, then creation; each knows its slot, so
   * re-setting or stopping one moves it in place (no stale entries, no allocation per set). The expiries
   * sit beside it in {@link keys}, so sifting reads one small array rather than every timer it passes.
   */
  private readonly heap: Timer[] = [];
  private keys = new Float64Array(64);
  /** Timers popped as due and not yet run, with their generations then (reused by every run). */
  private readonly due: Timer[] = [];
  private readonly dueGeneration: number[] = [];
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

  /** Armed timers waiting in the queue. */
  get pending(): number {
    return this.heap.length;
  }

  /** @internal */
  arm(timer: Timer): void {
    let i = timer.slot;
    if (i < 0) {
      i = this.heap.length;
      if (i === this.keys.length) {
        const grown = new Float64Array(i * 2);
        grown.set(this.keys);
        this.keys = grown;
      }
      timer.slot = i;
      this.heap.push(timer);
    }
    this.keys[i] = timer.expires!;
    if (!this.up(i)) this.down(i);
    this.reprogram();
  }

  /** @internal */
  disarm(timer: Timer): void {
    const i = timer.slot;
    if (i < 0) return;
    timer.slot = -1;
    const last = this.heap.pop()!;
    if (last === timer) return;
    this.heap[i] = last;
    this.keys[i] = this.keys[this.heap.length]!;
    last.slot = i;
    if (!this.up(i)) this.down(i);
    // The engine event may now be early; it finds nothing due and reprograms.
  }

  private readonly run = (now: number): void => {
    this.event = undefined;
    this.eventTime = Infinity;
    const heap = this.heap;
    const due = this.due;
    const generations = this.dueGeneration;
    const start = due.length;
    while (heap.length > 0 && this.keys[0]! <= now) {
      const timer = heap[0]!;
      this.disarm(timer);
      due.push(timer);
      generations.push(timer.generation);
    }
    for (let i = start; i < due.length; i++) {
      // An earlier callback in this batch may have stopped, moved or re-set this timer.
      const timer = due[i]!;
      if (generations[i] === timer.generation) timer.fire(now);
    }
    due.length = start;
    generations.length = start;
    this.reprogram();
  };

  private reprogram(): void {
    const when = this.heap.length === 0 ? Infinity : Math.max(this.keys[0]!, this.engine.now);
    if (when === this.eventTime) return;
    if (this.event !== undefined) this.engine.cancel(this.event);
    this.event = when === Infinity ? undefined : this.engine.at(when, this.run);
    this.eventTime = when;
  }

  /** True when slot `a` goes before slot `b`. */
  private before(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    return ka !== kb ? ka < kb : tieBefore(this.heap[a]!, this.heap[b]!);
  }

  /** Puts `timer` with expiry `key` in slot `i`. */
  private place(i: number, timer: Timer, key: number): void {
    this.heap[i] = timer;
    this.keys[i] = key;
    timer.slot = i;
  }

  /** Sifts slot `i` towards the root; true when it moved. */
  private up(i: number): boolean {
    const heap = this.heap;
    const keys = this.keys;
    const timer = heap[i]!;
    const key = keys[i]!;
    const from = i;
    while (i > 0) {
      const parent = ((i - 1) / ARITY) | 0;
      const pk = keys[parent]!;
      if (key > pk || (key === pk && !tieBefore(timer, heap[parent]!))) break;
      this.place(i, heap[parent]!, pk);
      i = parent;
    }
    if (i !== from) this.place(i, timer, key);
    return i !== from;
  }

  /** Sifts slot `i` towards the leaves. */
  private down(i: number): void {
    const heap = this.heap;
    const keys = this.keys;
    const n = heap.length;
    const timer = heap[i]!;
    const key = keys[i]!;
    const from = i;
    for (;;) {
      const first = ARITY * i + 1;
      if (first >= n) break;
      let c = first;
      const end = Math.min(first + ARITY, n);
      for (let j = first + 1; j < end; j++) if (this.before(j, c)) c = j;
      const ck = keys[c]!;
      if (ck > key || (ck === key && !tieBefore(heap[c]!, timer))) break;
      this.place(i, heap[c]!, ck);
      i = c;
    }
    if (i !== from) this.place(i, timer, key);
  }
}

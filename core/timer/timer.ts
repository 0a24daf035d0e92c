/** Per-CPU one-shot software timers in the manner of Xen's common/timer.c, driven by one engine event. */
import { HardwareError } from '../api/errors.js';
import type { Engine } from '../engine/engine.js';
import type { EventHandle } from '../engine/event-queue.js';
import type { PcpuId } from '../public/types.js';
import { PlatformClock, type PlatformClockOptions } from './platform-clock.js';
import { Tsc, type TscOptions } from './tsc.js';

/** What a timer runs when it expires: the virtual time and the timer itself (its {@link Timer.data} at hand). */
export type TimerFn = (now: number, timer: Timer) => void;

/** The scheduling side of {@link TimerService} that a {@link Timer} talks to. */
interface TimerQueue {
  /** Queues the timer at its expiry; `wasArmed` says whether it was armed before (moved rather than armed). */
  arm(timer: Timer, wasArmed: boolean): void;
  /** The timer stopped or fired: it no longer counts as armed. */
  disarm(timer: Timer): void;
  /** The timer was killed: its slot may serve another. */
  release(timer: Timer): void;
}

/**
 * A one-shot timer bound to a CPU (Xen's `struct timer`). Made by {@link TimerService.initTimer}.
 * Setting an armed timer moves it; a timer set in the past fires at once (in the next engine event).
 */
export class Timer {
  /** Absolute expiry while {@link armedNow}; a number field, never undefined, so V8 keeps it unboxed in place. */
  private expiry = 0;
  private armedNow = false;
  private killed = false;
  /**
   * Bumped on every set/stop/migrate/fire: a queued entry made at another generation is stale, and a
   * due timer re-set by an earlier callback of its batch is left alone. @internal
   */
  generation = 0;

  /** @internal */
  constructor(
    private readonly queue: TimerQueue,
    readonly fn: TimerFn,
    private owner: PcpuId,
    /** Creation order; the last tie-breaker among timers due at once. */
    readonly id: number,
    /**
     * Whatever `fn` needs (Xen's `timer->data`): one function can serve many timers, so a timer made per
     * vCPU costs no closure of its own.
     */
    readonly data: unknown = undefined,
    /** Its place in the service's table of timers (queue entries name the slot, not the timer). @internal */
    readonly slot = 0,
  ) {}

  /** The CPU the timer runs on. */
  get cpu(): PcpuId {
    return this.owner;
  }

  /** Absolute expiry (virtual ns) while armed. */
  get expires(): number | undefined {
    return this.armedNow ? this.expiry : undefined;
  }

  /** True while armed (Xen's `active_timer()`). */
  get active(): boolean {
    return this.armedNow;
  }

  /** Arms (or re-arms) the timer to fire at absolute virtual time `expires` (Xen's `set_timer()`). */
  set(expires: number): void {
    if (this.killed) throw timerError(this, 'timer-killed', 'set after kill');
    if (!Number.isFinite(expires)) throw timerError(this, 'timer-expiry', `expiry must be finite, got ${expires}`);
    const wasArmed = this.armedNow;
    this.expiry = expires;
    this.armedNow = true;
    this.generation++;
    this.queue.arm(this, wasArmed);
  }

  /** Disarms the timer; it will not fire until set again (Xen's `stop_timer()`). */
  stop(): void {
    if (!this.armedNow) return;
    this.armedNow = false;
    this.generation++;
    this.queue.disarm(this);
  }

  /** Moves the timer to `cpu`, keeping its expiry (Xen's `migrate_timer()`). */
  migrate(cpu: PcpuId): void {
    if (cpu === this.owner) return;
    this.owner = cpu;
    if (this.armedNow) {
      this.generation++;
      this.queue.arm(this, true);
    }
  }

  /** Stops the timer for good; a later `set()` throws (Xen's `kill_timer()`). */
  kill(): void {
    this.stop();
    if (!this.killed) this.queue.release(this);
    this.killed = true;
  }

  /** @internal Called by the service when the timer is due. */
  fire(now: number): void {
    this.armedNow = false;
    this.generation++;
    this.queue.disarm(this);
    this.fn(now, this);
  }
}

/** Made out of line: inlined into `set`, TurboFan would convert the id and CPU to strings on every call. */
function timerError(t: Timer, code: string, what: string): HardwareError {
  return new HardwareError(code, `timer ${t.id} on cpu${t.cpu}: ${what}`);
}

/** A queue entry's doubles: expiry (at 0), order, generation, slot. */
const ENTRY = 4;
const ORDER = 1;
const GEN = 2;
const SLOT = 3;
/** Creation ids below this (2^37) fit beside a CPU number in one exact double. */
const ID_SPAN = 2 ** 37;

/** A timer's place among timers due at once: by CPU, then creation. */
function orderOf(t: Timer): number {
  return t.cpu * ID_SPAN + t.id;
}

/** Children per node of the timer heap: a shallow heap moves fewer entries per pop. */
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
   * The queue: a 4-ary heap of entries ordered by expiry, then CPU, then creation. An entry is four
   * doubles in one array — expiry, order (CPU × 2^37 + creation id), the timer's generation when queued,
   * and the timer's slot in {@link table} — so sifting moves numbers within one array and never touches a
   * timer or stores a pointer (each level's children share a cache line or two). Setting a timer queues a
   * new entry and leaves the old one stale (its generation is past); stale entries are dropped as they
   * reach the top, or all at once when they outnumber the armed timers.
   */
  private heap = new Float64Array(64 * ENTRY);
  private size = 0;
  /** Timers by slot; a killed timer's slot is free for the next one made. */
  private readonly table: (Timer | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /** Armed timers: each has one entry of its generation, or was popped as due and has not run yet. */
  private armed = 0;
  /** Timers popped as due and not yet run (the first {@link dueCount}), with their generations then (reused by every run). */
  private readonly due: (Timer | undefined)[] = [];
  private readonly dueGeneration: number[] = [];
  private dueCount = 0;
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

  /** A new, unarmed timer that runs `fn` on `cpu`, with `data` for it (Xen's `init_timer()`). */
  initTimer(fn: TimerFn, cpu: PcpuId, data?: unknown): Timer {
    const slot = this.freeSlots.pop() ?? this.table.length;
    const timer = new Timer(this, fn, cpu, this.nextId++, data, slot);
    this.table[slot] = timer;
    return timer;
  }

  /** Armed timers waiting in the queue. */
  get pending(): number {
    return this.armed;
  }

  /** Entries in the queue, stale ones (of timers re-set, stopped or moved since) included. */
  get queueLength(): number {
    return this.size;
  }

  /** @internal */
  arm(timer: Timer, wasArmed: boolean): void {
    if (!wasArmed) this.armed++;
    if (this.size >= 2 * this.armed + 64) this.compact();
    this.push(timer);
    this.reprogram();
  }

  /** @internal */
  release(timer: Timer): void {
    this.table[timer.slot] = undefined;
    this.freeSlots.push(timer.slot);
  }

  /** @internal */
  disarm(_timer: Timer): void {
    this.armed--;
    // Its entry goes stale; the engine event may now be early: it finds nothing due and reprograms.
  }

  private readonly run = (now: number): void => {
    this.event = undefined;
    this.eventTime = Infinity;
    const due = this.due;
    const generations = this.dueGeneration;
    // A callback may run the engine again (a nested run): each run uses the slots past the last one's.
    const start = this.dueCount;
    let end = start;
    while (this.size > 0 && this.heap[0]! <= now) {
      const timer = this.live(0);
      const generation = this.heap[GEN]!;
      this.pop();
      if (timer === undefined) continue;
      due[end] = timer;
      generations[end] = generation;
      end++;
    }
    this.dueCount = end;
    try {
      for (let i = start; i < end; i++) {
        // An earlier callback in this batch may have stopped, moved or re-set this timer.
        const timer = due[i]!;
        if (generations[i] === timer.generation) timer.fire(now);
      }
    } finally {
      // Slots are cleared, not cut off: setting an array's length is a runtime call, and a cut array grows again next run.
      for (let i = start; i < end; i++) due[i] = undefined;
      this.dueCount = start;
    }
    this.reprogram();
  };

  private reprogram(): void {
    // Stale entries on top would make the event early for nothing: drop them first.
    while (this.size > 0 && this.live(0) === undefined) this.pop();
    const when = this.size === 0 ? Infinity : Math.max(this.heap[0]!, this.engine.now);
    if (when === this.eventTime) return;
    if (this.event !== undefined) this.engine.cancel(this.event);
    this.event = when === Infinity ? undefined : this.engine.at(when, this.run);
    this.eventTime = when;
  }

  /** The timer of entry `i` when the entry is its current one (same timer, same generation), else undefined. */
  private live(i: number): Timer | undefined {
    const at = i * ENTRY;
    const timer = this.table[this.heap[at + SLOT]!];
    if (timer === undefined || timer.generation !== this.heap[at + GEN] || orderOf(timer) !== this.heap[at + ORDER]) return undefined;
    return timer;
  }

  /** True when entry `a` goes before entry `b`: by expiry, then order (CPU, then creation). */
  private before(a: number, b: number): boolean {
    const heap = this.heap;
    const ka = heap[a * ENTRY]!;
    const kb = heap[b * ENTRY]!;
    return ka !== kb ? ka < kb : heap[a * ENTRY + ORDER]! < heap[b * ENTRY + ORDER]!;
  }

  /** Copies entry `from` into slot `to`. */
  private move(from: number, to: number): void {
    const heap = this.heap;
    const x = from * ENTRY;
    const y = to * ENTRY;
    heap[y] = heap[x]!;
    heap[y + ORDER] = heap[x + ORDER]!;
    heap[y + GEN] = heap[x + GEN]!;
    heap[y + SLOT] = heap[x + SLOT]!;
  }

  /** Queues an entry for `timer` as it now is. */
  private push(timer: Timer): void {
    if ((this.size + 1) * ENTRY > this.heap.length) this.grow();
    const i = this.size++;
    const at = i * ENTRY;
    const heap = this.heap;
    heap[at] = timer.expires!;
    heap[at + ORDER] = orderOf(timer);
    heap[at + GEN] = timer.generation;
    heap[at + SLOT] = timer.slot;
    this.up(i);
  }

  /** Removes the top entry. */
  private pop(): void {
    const last = --this.size;
    if (last > 0) {
      this.move(last, 0);
      this.down(0);
    }
  }

  private grow(): void {
    const heap = new Float64Array(this.heap.length * 2);
    heap.set(this.heap);
    this.heap = heap;
  }

  /** Drops every stale entry and rebuilds the heap (the order of armed timers is total, so pops keep their order). */
  private compact(): void {
    let kept = 0;
    for (let i = 0; i < this.size; i++) {
      if (this.live(i) !== undefined) this.move(i, kept++);
    }
    this.size = kept;
    for (let i = Math.floor((kept - 2) / ARITY); i >= 0; i--) this.down(i);
  }

  /** Sifts entry `i` towards the root. */
  private up(i: number): void {
    while (i > 0) {
      const parent = ((i - 1) / ARITY) | 0;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Sifts entry `i` towards the leaves. */
  private down(i: number): void {
    const n = this.size;
    for (;;) {
      const first = ARITY * i + 1;
      if (first >= n) break;
      let c = first;
      const end = Math.min(first + ARITY, n);
      for (let j = first + 1; j < end; j++) if (this.before(j, c)) c = j;
      if (!this.before(c, i)) break;
      this.swap(i, c);
      i = c;
    }
  }

  private swap(a: number, b: number): void {
    const heap = this.heap;
    const x = a * ENTRY;
    const y = b * ENTRY;
    for (let k = 0; k < ENTRY; k++) {
      const t = heap[x + k]!;
      heap[x + k] = heap[y + k]!;
      heap[y + k] = t;
    }
  }
}

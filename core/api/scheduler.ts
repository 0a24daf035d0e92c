/** The scheduler contract: an ops table chosen by name (Xen's `struct scheduler`, `sched=credit`), its registry and cpumasks. */
import type { InjectionToken } from 'tsyringe';
import type { DomId, PcpuId, VcpuId } from '../public/types.js';
import type { Logger } from './log.js';
import type { Vcpu, VcpuProgram } from './domain.js';

/**
 * An immutable set of physical CPUs (Xen's `cpumask_t`). Hard affinity (pinning) is one of these;
 * every scheduler must only run a vCPU on a pCPU its mask contains.
 */
export class CpuMask implements Iterable<PcpuId> {
  private readonly bits: Uint32Array;
  private readonly list: readonly PcpuId[];

  private constructor(cpus: Iterable<number>) {
    const sorted = [...new Set(cpus)].sort((a, b) => a - b);
    for (const c of sorted) if (!Number.isInteger(c) || c < 0) throw new RangeError(`cpumask: invalid cpu ${c}`);
    this.list = sorted as PcpuId[];
    this.bits = new Uint32Array(sorted.length > 0 ? (sorted[sorted.length - 1]! >> 5) + 1 : 0);
    for (const c of sorted) this.bits[c >> 5]! |= 1 << (c & 31);
  }

  /** The mask holding exactly `cpus`. */
  static of(...cpus: number[]): CpuMask {
    return new CpuMask(cpus);
  }
  /** CPUs 0..n-1 (Xen's `cpumask_setall` over n CPUs). */
  static all(n: number): CpuMask {
    return new CpuMask(Array.from({ length: n }, (_, i) => i));
  }
  /** Parses Xen's cpulist syntax: `"0-3,6"`, `"all"` needs `n`. */
  static parse(text: string, n?: number): CpuMask {
    const t = text.trim();
    if (t === 'all') {
      if (n === undefined) throw new RangeError('cpumask "all" needs the number of cpus');
      return CpuMask.all(n);
    }
    const cpus: number[] = [];
    for (const part of t.split(',')) {
      const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
      if (!m) throw new RangeError(`cpumask: cannot parse "${part}" in "${text}"`);
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) throw new RangeError(`cpumask: empty range "${part}" in "${text}"`);
      for (let c = lo; c <= hi; c++) cpus.push(c);
    }
    return new CpuMask(cpus);
  }

  has(cpu: number): boolean {
    const w = cpu >> 5;
    return w < this.bits.length && (this.bits[w]! & (1 << (cpu & 31))) !== 0;
  }
  get size(): number {
    return this.list.length;
  }
  get isEmpty(): boolean {
    return this.list.length === 0;
  }
  /** The lowest CPU in the mask, or `undefined` when empty. */
  first(): PcpuId | undefined {
    return this.list[0];
  }
  /** The CPUs in increasing order. */
  toArray(): readonly PcpuId[] {
    return this.list;
  }
  intersect(other: CpuMask): CpuMask {
    return new CpuMask(this.list.filter((c) => other.has(c)));
  }
  intersects(other: CpuMask): boolean {
    return this.list.some((c) => other.has(c));
  }
  equals(other: CpuMask): boolean {
    return this.list.length === other.list.length && this.list.every((c, i) => other.list[i] === c);
  }
  [Symbol.iterator](): Iterator<PcpuId> {
    return this.list[Symbol.iterator]();
  }
  /** Xen's cpulist format, e.g. `0-3,6`. */
  toString(): string {
    const out: string[] = [];
    for (let i = 0; i < this.list.length; ) {
      let j = i;
      while (j + 1 < this.list.length && this.list[j + 1] === this.list[j]! + 1) j++;
      out.push(i === j ? `${this.list[i]}` : `${this.list[i]}-${this.list[j]}`);
      i = j + 1;
    }
    return out.join(',');
  }
}

/** What a scheduler sees of a vCPU. The scheduler keeps its own per-vCPU data (Xen's `sched_priv`) keyed by this object. */
export interface SchedVcpu {
  readonly domid: DomId;
  readonly vcpuId: VcpuId;
  /** Pinning: the pCPUs this vCPU may run on. Never empty within the pool. */
  readonly hardAffinity: CpuMask;
  /** The pCPU whose runqueue the vCPU belongs to. A scheduler moves a vCPU by setting it (Xen's `sched_set_res`). */
  processor: PcpuId;
  /** Xen's `vcpu_runnable()`: not blocked, not down, not paused (itself or its domain). */
  readonly runnable: boolean;
  /** The pCPU it is running on now, or `undefined`. */
  readonly runningOn: PcpuId | undefined;
  /**
   * The scheduler's own record of this vCPU (Xen's `sched_unit->priv`), set by the scheduler in
   * `insertVcpu` and cleared in `removeVcpu`; the core never reads it. A field, so the record is found
   * without a lookup on every wake, sleep and schedule.
   */
  schedPriv: unknown;
}

/** A scheduler's answer to "what runs next on this pCPU": a vCPU (or `null` for the idle vCPU) and for how long. */
export interface SchedDecision {
  readonly next: SchedVcpu | null;
  /** Nanoseconds until the pCPU reschedules unless something tickles it first; `Infinity` for "until tickled". */
  readonly slice: number;
}

/** Per-domain scheduling parameters (Xen's `xen_domctl_scheduler_op`), e.g. `{ weight: 256, cap: 0 }`. */
export type SchedDomainParams = Readonly<Record<string, number>>;

/** A cancellable timer the core gives a scheduler. */
export interface SchedTimer {
  cancel(): void;
}

/** What the core offers a scheduler: its pCPUs, virtual time, timers and a way to ask a pCPU to reschedule. */
export interface SchedulerHost {
  /** The pool's pCPUs, in increasing order. */
  readonly cpus: CpuMask;
  /** Current virtual time, ns. */
  readonly now: number;
  /** Asks `cpu` to call `doSchedule` soon (Xen's `cpu_raise_softirq(cpu, SCHEDULE_SOFTIRQ)`): at once when idle, else within one quantum. */
  tickle(cpu: PcpuId): void;
  /** The vCPU running on `cpu`, or `null` when it runs its idle vCPU. */
  current(cpu: PcpuId): SchedVcpu | null;
  /** Runs `fn` after `delay` ns of virtual time (deterministic; ties break in call order). */
  timer(delay: number, fn: (now: number) => void): SchedTimer;
  readonly log: Logger;
}

/**
 * A scheduler (Xen's `struct scheduler`). The core calls these; a scheduler never calls back into the
 * core except through {@link SchedulerHost}. Invariants: `doSchedule` returns only a runnable vCPU
 * whose hard affinity contains the pCPU and that is not running on another pCPU; the core checks.
 */
export interface SchedulerOps {
  /** Human name, e.g. `SMP Credit Scheduler`. */
  readonly name: string;
  /** The name it is chosen by (`sched=credit`). */
  readonly optName: string;
  /** Called once, before anything else, with the pool it schedules. */
  init(host: SchedulerHost): void;
  /** Drops every timer and reference; called when the pool goes away. */
  deinit(): void;
  /** A domain joins the pool (Xen's `alloc_domdata`). */
  insertDomain(domid: DomId): void;
  /** A domain leaves the pool; its vCPUs have been removed first. */
  removeDomain(domid: DomId): void;
  /** A vCPU joins (not runnable yet; `wake` follows when it is). Its domain was inserted. */
  insertVcpu(v: SchedVcpu): void;
  /** A vCPU leaves; it is not running. */
  removeVcpu(v: SchedVcpu): void;
  /** `v` became runnable (woken from blocked, unpaused, brought up). Queue it and tickle a pCPU. */
  wake(v: SchedVcpu): void;
  /** `v` is no longer runnable. Dequeue it; when it is running the core reschedules its pCPU itself. */
  sleep(v: SchedVcpu): void;
  /** `v` gave up the rest of its slice (SCHEDOP_yield); the core reschedules its pCPU next. */
  yield(v: SchedVcpu): void;
  /**
   * Picks what runs on `cpu` from `now`. `prev` is the vCPU that was running there (or `null`); if
   * `prev.runnable`, the scheduler keeps it queued or picks it again.
   */
  doSchedule(cpu: PcpuId, now: number, prev: SchedVcpu | null): SchedDecision;
  /** The vCPU's hard affinity changed; move it if its processor is no longer allowed. */
  affinityChanged(v: SchedVcpu): void;
  /** This domain's parameters. Throws `GuestError('ESRCH')` for a domain not in the pool. */
  getDomainParams(domid: DomId): SchedDomainParams;
  /** Updates some of a domain's parameters; throws `GuestError('EINVAL')` naming a bad key or value. */
  setDomainParams(domid: DomId, params: SchedDomainParams): void;
  /**
   * The pool-wide parameters (Xen's XEN_SYSCTL_SCHEDOP_getinfo), by the names xl uses: credit reports
   * `tslice_ms`, `ratelimit_us`, `migration_delay_us`. Optional: a scheduler without any omits it.
   */
  getPoolParams?(): Readonly<Record<string, number>>;
  /** Human-readable state for debug dumps (Xen's `dump_settings`/`dump_cpu_state`). */
  dump(): string;
}

/** Makes a fresh scheduler instance, one per cpu pool. */
export type SchedulerFactory = () => SchedulerOps;

/** Schedulers by name. Scheduler plugins register here; the host creates the one the config names. */
export interface SchedulerRegistry {
  /** Adds a scheduler. Throws if `name` is taken. Returns a function that removes it. */
  register(name: string, factory: SchedulerFactory): () => void;
  /** A new instance of the scheduler called `name`; an unknown name throws, listing the registered ones. */
  create(name: string): SchedulerOps;
  has(name: string): boolean;
  /** Registered names, sorted. */
  names(): string[];
}
export const SchedulerRegistry = Symbol.for('xenoserver:SchedulerRegistry') as InjectionToken<SchedulerRegistry>;

/** What one pCPU is doing, for dumps and tests. */
export interface PcpuInfo {
  readonly cpu: PcpuId;
  /** The vCPU running there, or `null` for the idle vCPU. */
  readonly current: Vcpu | null;
  /** Nanoseconds spent running vCPUs and idle so far. */
  readonly busyTime: number;
  readonly idleTime: number;
  /** Context switches made on this pCPU. */
  readonly switches: number;
}

/**
 * The pCPUs and the scheduler that runs vCPUs on them (Xen's cpupool, Pool-0). It owns the runner:
 * it asks the scheduler what to run, runs vCPU programs in slices, and keeps runstates.
 */
export interface CpuPool {
  readonly scheduler: SchedulerOps;
  readonly cpus: CpuMask;
  /** The longest a vCPU runs ahead of global time before the runner looks at it again, ns. */
  readonly quantum: number;
  pcpu(cpu: PcpuId): PcpuInfo;
  /** Scheduler parameters of a domain (`xl sched-credit -d`). */
  getDomainParams(domid: DomId): SchedDomainParams;
  setDomainParams(domid: DomId, params: SchedDomainParams): void;
  /** Wakes `vcpu` for a pending event or interrupt (same as `vcpu.kick()`). */
  kick(vcpu: Vcpu): void;
  dump(): string;
}
export const CpuPool = Symbol.for('xenoserver:CpuPool') as InjectionToken<CpuPool>;

/**
 * Guest code at an entry point, for guest-kernel plugins: the part of the core's SchedOps
 * (core/cpu/sched-state.ts) a kernel needs to start its APs. A vCPU that VCPUOP_initialise gave RIP
 * `rip` runs `program` when VCPUOP_up starts it. Throws `GuestError('ESRCH')` for an unknown domain;
 * returns a remover. Resolves to the same object as SchedOps.
 */
export interface GuestEntryPoints {
  setEntryPoint(domid: number, rip: number, program: VcpuProgram): () => void;
}
export const GuestEntryPoints = Symbol.for('xenoserver:SchedOps') as InjectionToken<GuestEntryPoints>;

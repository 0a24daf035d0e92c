/**
 * The CPU pool and its runner (Xen's common/sched/core.c): asks the scheduler ops what each pCPU runs,
 * runs vCPU programs in segments of at most one quantum, decides blocking requests at segment ends,
 * and keeps runstates.
 */
import type { Engine } from '../engine/engine.js';
import type { EventHandle } from '../engine/event-queue.js';
import { TraceKind } from '../engine/trace.js';
import type { RunstateName, Vcpu } from '../api/domain.js';
import { CpuMask, type CpuPool, type PcpuInfo, type SchedDomainParams, type SchedTimer, type SchedulerHost, type SchedulerOps, type SchedVcpu } from '../api/scheduler.js';
import { GuestError, HardwareError } from '../api/errors.js';
import type { Logger } from '../api/log.js';
import { DOMID_IDLE } from '../public/xen.js';
import type { DomId, PcpuId } from '../public/types.js';
import { Pcpu } from './pcpu.js';
import { VPF_BLOCKED, VcpuImpl, type VcpuPool } from './vcpu.js';

export interface CpuPoolOptions {
  engine: Engine;
  scheduler: SchedulerOps;
  /** Number of pCPUs (ids 0..n-1). */
  cpus: number;
  /** Longest run-ahead of a vCPU past global time, ns (default 1 ms). */
  quantum?: number;
  log: Logger;
}

/** The default quantum: 1 ms of virtual time. */
export const DEFAULT_QUANTUM_NS = 1_000_000;

/**
 * Runs after a vCPU changed runstate at virtual time `now` (`to === 'running'` is Xen's context switch
 * in). Hooks run inside the scheduler: they must be quick and must not change runnability.
 */
export type RunstateHook = (v: VcpuImpl, from: RunstateName, to: RunstateName, now: number) => void;

/**
 * What the pool offers its scheduler. A class, not an object literal: a literal with the `now` getter
 * was kept in dictionary mode by V8, so every `host.tickle` and `host.current` of the scheduler's hot
 * paths was a hash lookup.
 */
class PoolHost implements SchedulerHost {
  constructor(
    readonly cpus: CpuMask,
    private readonly engine: Engine,
    private readonly pool: CpuPoolImpl,
    readonly log: Logger,
  ) {}

  get now(): number {
    return this.engine.now;
  }

  tickle(cpu: PcpuId): void {
    this.pool.tickle(cpu);
  }

  current(cpu: PcpuId): SchedVcpu | null {
    return this.pool.currentOn(cpu);
  }

  timer(delay: number, fn: (now: number) => void): SchedTimer {
    const engine = this.engine;
    const handle = engine.after(delay, fn);
    return { cancel: () => void engine.cancel(handle) };
  }
}

export class CpuPoolImpl implements CpuPool, VcpuPool {
  readonly scheduler: SchedulerOps;
  readonly cpus: CpuMask;
  readonly quantum: number;
  private readonly engine: Engine;
  private readonly log: Logger;
  private readonly pcpus: Pcpu[];
  private readonly contextSwitchNs: number;
  private readonly host: SchedulerHost;
  private readonly runstateHooks: RunstateHook[] = [];

  constructor(options: CpuPoolOptions) {
    if (!Number.isInteger(options.cpus) || options.cpus < 1) throw new RangeError(`cpupool: need at least one pCPU, got ${options.cpus}`);
    this.engine = options.engine;
    this.scheduler = options.scheduler;
    this.log = options.log;
    this.quantum = options.quantum ?? DEFAULT_QUANTUM_NS;
    if (!(this.quantum > 0)) throw new RangeError(`cpupool: quantum must be positive, got ${this.quantum}`);
    this.cpus = CpuMask.all(options.cpus);
    this.pcpus = this.cpus.toArray().map((id) => new Pcpu(id));
    for (const p of this.pcpus) {
      p.onSchedule = () => this.schedule(p);
      p.onSegmentDone = () => this.segmentDone(p);
    }
    this.contextSwitchNs = this.engine.cyclesToNs(this.engine.cost.contextSwitch);
    this.host = new PoolHost(this.cpus, this.engine, this, this.log.child(this.scheduler.optName));
    this.scheduler.init(this.host);
  }

  get now(): number {
    return this.engine.now;
  }

  // --- helpers ---------------------------------------------------------------------------------

  private pcpuOf(cpu: PcpuId): Pcpu {
    const p = this.pcpus[cpu];
    if (p === undefined) throw new GuestError('EINVAL', `cpupool: no pCPU ${cpu} (pool has ${this.cpus})`);
    return p;
  }

  /** The vCPU running on `cpu`, or null while it idles. */
  currentOn(cpu: PcpuId): VcpuImpl | null {
    return this.pcpuOf(cpu).current;
  }

  private describe(v: SchedVcpu): string {
    return `dom${v.domid} vcpu${v.vcpuId}`;
  }

  cancelTimer(handle: EventHandle): void {
    this.engine.cancel(handle);
  }

  runstateChanged(v: VcpuImpl, from: RunstateName, to: RunstateName, now: number): void {
    for (const hook of this.runstateHooks) {
      try {
        hook(v, from, to, now);
      } catch (error) {
        this.log.error(`${this.describe(v)}: runstate hook failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  // --- operations on vCPUs ---------------------------------------------------------------------

  /** Xen's `cpu_raise_softirq(cpu, SCHEDULE_SOFTIRQ)`: an idle pCPU reschedules now, a busy one at its segment end. */
  tickle(cpu: PcpuId): void {
    const p = this.pcpuOf(cpu);
    if (p.inSchedule) return;
    if (p.current !== null) {
      p.softirq = true;
      return;
    }
    if (p.event !== null && p.event.pending && p.event.time <= this.engine.now) return;
    if (p.event !== null) this.engine.cancel(p.event);
    p.event = this.engine.at(this.engine.now, p.onSchedule);
  }

  /** Reacts to a change of `v`'s runnability (pause flags, pause counts): Xen's `vcpu_wake` / `vcpu_sleep_nosync`. */
  update(v: VcpuImpl, wasRunnable: boolean): void {
    if (v.pool !== this) return;
    const runnable = v.runnable;
    if (runnable === wasRunnable) return;
    if (!runnable) {
      if (v.runningOn !== undefined) {
        this.scheduler.sleep(v);
        this.tickle(v.runningOn);
      } else {
        v.setRunstate(v.idleRunstate(), this.engine.now);
        this.scheduler.sleep(v);
      }
    } else if (v.runningOn === undefined) {
      v.setRunstate('runnable', this.engine.now);
      this.scheduler.wake(v);
    }
  }

  /** An event or interrupt is pending for `v`: end a wait that events end, or remember it for the block its running segment may already have asked for. */
  kick(vcpu: Vcpu): void {
    const v = vcpu as VcpuImpl;
    if (v.coroutine === null) return;
    const waiting = (v.pauseFlags & VPF_BLOCKED) !== 0 && v.runningOn === undefined;
    if (waiting && (v.waitingOn === 'block' || v.waitingOn === 'halt' || v.waitingOn === 'poll')) {
      v.cancelWakeTimer();
      v.resumeWith = 'event';
      v.waitingOn = null;
      v.setFlag(VPF_BLOCKED, false);
    } else if (v.runningOn !== undefined) {
      // Its segment runs ahead of global time: a blocking request it already made may have missed this event.
      v.eventLatch = true;
    }
    // A vCPU that is not running sees the event in its pending state (port bits, upcall flag, vLAPIC) when next it looks.
  }

  /** Ends `v`'s `io` wait (events and interrupts never do), or latches the completion for it. */
  ioComplete(v: VcpuImpl): void {
    if (v.coroutine === null) return;
    if ((v.pauseFlags & VPF_BLOCKED) !== 0 && v.waitingOn === 'io' && v.runningOn === undefined) {
      v.resumeWith = 'continue';
      v.waitingOn = null;
      v.setFlag(VPF_BLOCKED, false);
    } else {
      v.ioDone = true;
    }
  }

  private timerWake(v: VcpuImpl): void {
    v.wakeTimer = null;
    if ((v.pauseFlags & VPF_BLOCKED) === 0 || (v.waitingOn !== 'sleep' && v.waitingOn !== 'poll')) return;
    v.resumeWith = 'timeout';
    v.waitingOn = null;
    v.setFlag(VPF_BLOCKED, false);
  }

  setHardAffinity(v: VcpuImpl, mask: CpuMask): void {
    if (!mask.intersects(this.cpus)) throw new GuestError('EINVAL', `${this.describe(v)}: affinity ${mask} has no pCPU of the pool (${this.cpus})`, { domid: v.domid });
    v.hardAffinity = mask;
    this.scheduler.affinityChanged(v);
    if (v.runningOn !== undefined && !mask.has(v.runningOn)) this.tickle(v.runningOn);
  }

  // --- the runner ------------------------------------------------------------------------------

  /**
   * Xen's `schedule()`: ask the ops what runs next on `p`, switch to it, run it. A switch is traced as
   * `TraceKind.Schedule` (domid/vcpu = next, a = pCPU, b/c = previous domid/vcpu; idle = DOMID_IDLE/pCPU).
   */
  private schedule(p: Pcpu): void {
    const now = this.engine.now;
    if (p.event !== null) {
      this.engine.cancel(p.event);
      p.event = null;
    }
    p.softirq = false;
    const prev = p.current;
    p.inSchedule = true;
    let decision;
    try {
      decision = this.scheduler.doSchedule(p.id, now, prev);
    } finally {
      p.inSchedule = false;
    }
    const next = this.checkDecision(p, decision.next, decision.slice);
    p.account(now);
    if (prev !== null && prev !== next) {
      prev.runningOn = undefined;
      prev.setRunstate(prev.idleRunstate(), now);
    }
    if (next !== null && next !== prev) {
      const cost = next === p.loaded ? 0 : this.contextSwitchNs;
      if (cost > 0) p.switches++;
      p.loaded = next;
      next.runningOn = p.id;
      next.processor = p.id;
      next.setRunstate('running', now);
      next.clock = now + cost;
    }
    if (next !== prev) {
      this.engine.trace.record(now, TraceKind.Schedule, next?.domid ?? DOMID_IDLE, next?.vcpuId ?? p.id, p.id, prev?.domid ?? DOMID_IDLE, prev?.vcpuId ?? p.id);
    }
    p.current = next;
    p.sliceEnd = now + decision.slice;
    if (next === null) {
      if (Number.isFinite(p.sliceEnd)) p.event = this.engine.at(p.sliceEnd, p.onSchedule);
      return;
    }
    if (next.clock < now) next.clock = now;
    this.runSegment(p, next);
  }

  private who(p: Pcpu): string {
    return `scheduler "${this.scheduler.optName}" on cpu${p.id}`;
  }

  private checkDecision(p: Pcpu, picked: SchedVcpu | null, slice: number): VcpuImpl | null {
    if (!(slice > 0)) throw new HardwareError('sched', `${this.who(p)}: slice must be positive, got ${slice}`);
    if (picked === null) return null;
    if (!(picked instanceof VcpuImpl) || picked.pool !== this) throw new HardwareError('sched', `${this.who(p)}: picked a vCPU that is not in this pool`);
    if (!picked.runnable) throw new HardwareError('sched', `${this.who(p)}: picked ${this.describe(picked)}, which is not runnable`);
    if (!picked.hardAffinity.has(p.id)) throw new HardwareError('sched', `${this.who(p)}: picked ${this.describe(picked)} outside its hard affinity ${picked.hardAffinity}`);
    if (picked.runningOn !== undefined && picked.runningOn !== p.id) throw new HardwareError('sched', `${this.who(p)}: picked ${this.describe(picked)}, already running on cpu${picked.runningOn}`);
    return picked;
  }

  /** Runs `v` until its clock reaches the segment's end or it blocks; the pCPU's next event is at `v`'s clock. */
  private runSegment(p: Pcpu, v: VcpuImpl): void {
    const limit = Math.min(p.sliceEnd, v.clock + this.quantum);
    const outcome = v.run(limit);
    if (outcome === 'crashed') this.crash(v, v.crashError);
    else if (outcome === 'ended') this.markIdle(v);
    p.event = this.engine.at(v.clock, p.onSegmentDone);
  }

  private crash(v: VcpuImpl, error: unknown): void {
    v.crashError = undefined;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.log.error(`${this.describe(v)} crashed: ${message}`);
    v.pending = null;
    this.markIdle(v);
    v.owner.vcpuCrashed(v, error);
  }

  /** The program is gone: the vCPU is idle-blocked until it gets another. */
  private markIdle(v: VcpuImpl): void {
    v.coroutine = null;
    v.waitingOn = 'idle';
    const was = v.runnable;
    v.pauseFlags |= VPF_BLOCKED;
    if (was) this.scheduler.sleep(v);
  }

  /** The segment's end in global time: settle the blocking request, then continue or reschedule. */
  private segmentDone(p: Pcpu): void {
    p.event = null;
    const v = p.current;
    if (v === null) return;
    const now = this.engine.now;
    const request = v.pending;
    v.pending = null;
    let yielded = false;
    if (request !== null) {
      switch (request?.op) {
        case 'block':
        case 'halt':
          if (v.takePendingEvent()) v.resumeWith = 'event';
          else this.startWait(v, request.op, 0);
          break;
        case 'sleep':
          if (request.until <= now) v.resumeWith = 'timeout';
          else this.startWait(v, 'sleep', request.until);
          break;
        case 'poll':
          if (v.takePendingEvent()) v.resumeWith = 'event';
          else if (request.timeout !== 0 && request.timeout <= now) v.resumeWith = 'timeout';
          else this.startWait(v, 'poll', request.timeout);
          break;
        case 'io':
          if (v.ioDone) v.ioDone = false;
          else this.startWait(v, 'io', 0);
          break;
        case 'yield':
          this.scheduler.yield(v);
          yielded = true;
          break;
        default:
          v.coroutine = null;
          this.crash(v, new TypeError(`yielded ${JSON.stringify(request)}, which is not a vCPU request`));
      }
    }
    if (!v.runnable || p.softirq || yielded || now >= p.sliceEnd) this.schedule(p);
    else this.runSegment(p, v);
  }

  private startWait(v: VcpuImpl, kind: 'block' | 'halt' | 'sleep' | 'poll' | 'io', until: number): void {
    v.waitingOn = kind;
    if (until > 0) v.wakeTimer = this.engine.at(until, () => this.timerWake(v));
    const was = v.runnable;
    v.pauseFlags |= VPF_BLOCKED;
    if (was) this.scheduler.sleep(v);
  }

  // --- the in-core API -------------------------------------------------------------------------

  /** Adds a hook run on every runstate change of every vCPU of the pool. Returns a remover. */
  onRunstateChange(hook: RunstateHook): () => void {
    this.runstateHooks.push(hook);
    return () => {
      const i = this.runstateHooks.indexOf(hook);
      if (i >= 0) this.runstateHooks.splice(i, 1);
    };
  }

  insertDomain(domid: DomId): void {
    this.scheduler.insertDomain(domid);
  }

  removeDomain(domid: DomId): void {
    this.scheduler.removeDomain(domid);
  }

  /** Adds a vCPU to the pool; it wakes at once if runnable. */
  insertVcpu(v: VcpuImpl): void {
    if (!v.hardAffinity.intersects(this.cpus)) throw new GuestError('EINVAL', `${this.describe(v)}: affinity ${v.hardAffinity} has no pCPU of the pool (${this.cpus})`, { domid: v.domid });
    v.pool = this;
    if (!v.hardAffinity.has(v.processor) || !this.cpus.has(v.processor)) v.processor = v.hardAffinity.intersect(this.cpus).first()!;
    v.clock = this.engine.now;
    v.initRunstate(v.idleRunstate(), this.engine.now);
    this.scheduler.insertVcpu(v);
    if (v.runnable) this.scheduler.wake(v);
  }

  /** Takes a vCPU out of the pool at once, descheduling it if it runs; its program is dropped. */
  removeVcpu(v: VcpuImpl): void {
    if (v.pool !== this) return;
    const now = this.engine.now;
    v.cancelWakeTimer();
    v.coroutine = null;
    v.pending = null;
    v.pauseFlags |= VPF_BLOCKED;
    if (v.runningOn !== undefined) {
      const p = this.pcpuOf(v.runningOn);
      if (p.event !== null) this.engine.cancel(p.event);
      p.event = null;
      p.account(now);
      p.current = null;
      if (p.loaded === v) p.loaded = null;
      v.runningOn = undefined;
      this.engine.trace.record(now, TraceKind.Schedule, DOMID_IDLE, p.id, p.id, v.domid, v.vcpuId);
      this.tickle(p.id);
    }
    for (const p of this.pcpus) if (p.loaded === v) p.loaded = null;
    v.setRunstate('offline', now);
    this.scheduler.removeVcpu(v);
    v.pool = null;
  }

  pcpu(cpu: PcpuId): PcpuInfo {
    return this.pcpuOf(cpu).info(this.engine.now);
  }

  getDomainParams(domid: DomId): SchedDomainParams {
    return this.scheduler.getDomainParams(domid);
  }

  setDomainParams(domid: DomId, params: SchedDomainParams): void {
    this.scheduler.setDomainParams(domid, params);
  }

  /** Stops the scheduler's timers and every pCPU's pending event. */
  destroy(): void {
    for (const p of this.pcpus) if (p.event !== null) this.engine.cancel(p.event);
    this.scheduler.deinit();
  }

  // --- debug dump ------------------------------------------------------------------------------

  dump(): string {
    const lines = [`cpupool Pool-0: scheduler ${this.scheduler.name} (${this.scheduler.optName}), quantum ${this.quantum} ns`];
    for (const p of this.pcpus) {
      const info = p.info(this.engine.now);
      const cur = p.current === null ? 'idle' : this.describe(p.current);
      lines.push(`  cpu${p.id}: ${cur}  busy ${info.busyTime} ns  idle ${info.idleTime} ns  switches ${info.switches}`);
    }
    lines.push(this.scheduler.dump());
    return lines.join('\n');
  }
}

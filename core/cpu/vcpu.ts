/** A virtual CPU: identity, pause flags, runstate accounting, local clock and the program coroutine it runs. */
import { NO_INSTRUCTIONS, NoGuestAccess, PREEMPT, VcpuApiImpl } from './vcpu-api.js';
import type { GuestAccess } from '../api/memory.js';
import type { CostModel } from '../engine/cost-model.js';
import type { EventHandle } from '../engine/event-queue.js';
import type { GuestMode, PendingSource, RunstateInfo, RunstateName, Vcpu, VcpuApi, VcpuCoroutine, VcpuInstructions, VcpuProgram, VcpuRequest, WakeReason } from '../api/domain.js';
import type { CpuMask, SchedVcpu } from '../api/scheduler.js';
import type { HypercallArgs, HypercallContext, HypercallDispatcher } from '../api/hypercall.js';
import { XenoError } from '../api/errors.js';
import { XenErrno } from '../public/errno.js';
import type { DomId, PcpuId, VcpuId } from '../public/types.js';
import { RUNSTATE, VcpuRunstateInfo } from '../public/vcpu.js';
import type { VcpuSchedState } from './sched-state.js';
import { VcpuContext } from './vcpu-context.js';

/** `_VPF_blocked`: waiting for an event (or idle: no program). */
export const VPF_BLOCKED = 1;
/** `_VPF_down`: brought down with VCPUOP_down. */
export const VPF_DOWN = 2;

const NO_SOURCES: readonly PendingSource[] = [];

const RUNSTATE_CODES = Object.keys(RUNSTATE).length;

/** RUNSTATE_* of a name, by comparisons (the runstate names are interned: no property lookup). */
function runstateCode(name: RunstateName): number {
  return name === 'running' ? RUNSTATE.running : name === 'runnable' ? RUNSTATE.runnable : name === 'blocked' ? RUNSTATE.blocked : RUNSTATE.offline;
}

/** The vCPU a hypercall runs on when its context is that vCPU itself (a guest's own call), else undefined (the toolstack, tests). */
export function ownVcpu(ctx: HypercallContext): VcpuImpl | undefined {
  return ctx instanceof VcpuImpl && ctx.pool !== null ? ctx : undefined;
}

/** What a vCPU needs from its domain. */
export interface VcpuOwner {
  readonly domid: DomId;
  readonly privileged: boolean;
  readonly mode: GuestMode;
  /** The domain's pause count: its vCPUs run only at 0. */
  readonly pauseCount: number;
  vcpuRunstateChanged(v: VcpuImpl, from: RunstateName, to: RunstateName): void;
  vcpuCrashed(v: VcpuImpl, error: unknown): void;
}

/** The part of the CPU pool a vCPU calls back into (implemented by `CpuPoolImpl`). */
export interface VcpuPool {
  readonly now: number;
  readonly quantum: number;
  update(v: VcpuImpl, wasRunnable: boolean): void;
  kick(v: VcpuImpl): void;
  setHardAffinity(v: VcpuImpl, mask: CpuMask): void;
  cancelTimer(handle: EventHandle): void;
  /** The device model answered `v`'s access: end its `io` wait, or let the next one return at once. */
  ioComplete(v: VcpuImpl): void;
  /** Runs the pool's runstate hooks (PV time, runstate areas) after `v` changed runstate at `now`. */
  runstateChanged?(v: VcpuImpl, from: RunstateName, to: RunstateName, now: number): void;
}

/** What a blocked vCPU waits for; decides which wake-ups end the wait. */
export type WaitKind = 'block' | 'halt' | 'sleep' | 'poll' | 'io' | 'idle' | null;

/** How a run of the coroutine ended. */
export type RunOutcome = 'preempted' | 'request' | 'ended' | 'crashed';



/**
 * A vCPU. Runnable (Xen's `vcpu_runnable`) when no pause flag is set and neither it nor its domain is
 * paused. The CPU pool runs it; everything that changes runnability goes through `pool.update`.
 */
export class VcpuImpl implements Vcpu, SchedVcpu, HypercallContext {
  readonly context = new VcpuContext();
  readonly nsPerCycle: number;
  processor: PcpuId;
  hardAffinity: CpuMask;
  pauseFlags = VPF_BLOCKED;
  /** `vcpu_pause` count, separate from the domain's. */
  pauseCount = 0;
  runningOn: PcpuId | undefined = undefined;
  schedPriv: unknown = undefined;
  /** Local clock, ns: ahead of global time while running. */
  clock = 0;
  /** Where the current run segment ends; the runaway guard and `burn` use it. */
  segmentEnd = 0;
  coroutine: VcpuCoroutine | null = null;
  /** A blocking request yielded in the current segment, decided when the segment ends. */
  pending: VcpuRequest | null = null;
  /** What the coroutine receives when next resumed. */
  resumeWith: WakeReason = 'continue';
  waitingOn: WaitKind = 'idle';
  wakeTimer: EventHandle | null = null;
  /** An event arrived while the vCPU was not waiting for one. */
  eventLatch = false;
  /** The forwarded access completed before the vCPU's `io` wait began (Xen's ioreq state already IORESP_READY). */
  ioDone = false;
  /** A blocking request a hypercall handler asked for ({@link deferRequest}), not yet handed to the program. */
  deferred: VcpuRequest | null = null;
  readonly hypercallArgs: number[] = [0, 0, 0, 0, 0];
  /** The caller's memory as hypercall handlers see it; the host attaches the real one at domain creation. */
  guest: GuestAccess = new NoGuestAccess(this);
  /** CPUID/RDMSR/WRMSR as the platform answers them; the host attaches them once the platform exists. */
  instructions: VcpuInstructions = NO_INSTRUCTIONS;
  pool: VcpuPool | null = null;
  /** Replaced, never grown in place: an array of exactly its sources (one or two). */
  private pendingSources: readonly PendingSource[] = NO_SOURCES;
  private readonly api: VcpuApi;
  private state: RunstateName = 'offline';
  private stateEntry = 0;
  /** Time in each runstate before the current stretch, by RUNSTATE_* number. */
  private readonly stateTime = new Float64Array(4);
  /** The error a crashed {@link run} ended with. */
  crashError: unknown = undefined;
  /** The scheduling ops' record of this vCPU, once they made it (their map's entry, kept here for the hot paths). */
  schedState: VcpuSchedState | undefined = undefined;

  constructor(
    readonly owner: VcpuOwner,
    readonly vcpuId: VcpuId,
    readonly cost: CostModel,
    affinity: CpuMask,
    private readonly dispatcher: HypercallDispatcher | null = null,
    /** The longest run past a segment's end without a preemption point before the program is stopped, ns. */
    readonly runawayLimit = 1_000_000,
  ) {
    this.nsPerCycle = 1000 / cost.cpuMhz;
    this.hardAffinity = affinity;
    this.processor = (affinity.first() ?? 0) as PcpuId;
    this.api = new VcpuApiImpl(this);
  }

  get domid(): DomId {
    return this.owner.domid;
  }
  get privileged(): boolean {
    return this.owner.privileged;
  }
  get mode(): GuestMode {
    return this.owner.mode;
  }
  get now(): number {
    return this.clock;
  }
  get localTime(): number {
    return this.clock;
  }
  get runnable(): boolean {
    return this.pauseFlags === 0 && this.pauseCount === 0 && this.owner.pauseCount === 0;
  }
  get isUp(): boolean {
    return (this.pauseFlags & VPF_DOWN) === 0;
  }
  get hasProgram(): boolean {
    return this.coroutine !== null;
  }
  get runstate(): RunstateName {
    return this.state;
  }

  charge(cycles: number): void {
    this.clock += cycles * this.nsPerCycle;
  }

  /**
   * Runs a hypercall for this vCPU. A failing one drops any request its handler deferred; one that left
   * the caller not runnable (its domain shut down, itself brought down) defers a preemption point, so
   * the program stops at its next `yield`.
   */
  hypercall(nr: number, args: HypercallArgs): number {
    if (this.dispatcher === null) return -XenErrno.ENOSYS;
    this.deferred = null;
    const result = this.dispatcher.dispatch(this, nr, args);
    if (result < 0) this.deferred = null;
    else if (this.deferred === null && !this.runnable && this.runningOn !== undefined) this.deferred = PREEMPT;
    return result;
  }

  /** HypercallContext: block once the running hypercall returns. */
  deferRequest(request: VcpuRequest): void {
    this.deferred = request;
  }

  /** The deferred request, handed over once. */
  takeDeferred(): VcpuRequest | null {
    const request = this.deferred;
    this.deferred = null;
    return request;
  }

  /** In SCHEDOP_poll: asked to poll, or waiting in a poll (Xen's poll_mask bit). */
  get isPolling(): boolean {
    return this.deferred?.op === 'poll' || this.pending?.op === 'poll' || (this.waitingOn === 'poll' && (this.pauseFlags & VPF_BLOCKED) !== 0);
  }

  /** Stops a program that keeps computing past its segment without ever yielding. */
  checkRunaway(): void {
    if (this.clock > this.segmentEnd + this.runawayLimit) {
      throw new XenoError('runaway', `dom${this.domid} vcpu${this.vcpuId} ran ${Math.round(this.clock - this.segmentEnd)} ns past its slice without a preemption point (yield v.preempt())`, {
        domid: this.domid,
      });
    }
  }

  /** The state a descheduled or stopped vCPU is in, as Xen decides it. */
  idleRunstate(): RunstateName {
    if (this.runnable) return 'runnable';
    return (this.pauseFlags & VPF_DOWN) === 0 && (this.pauseFlags & VPF_BLOCKED) !== 0 ? 'blocked' : 'offline';
  }

  setRunstate(to: RunstateName, now: number): void {
    const from = this.state;
    if (from === to) return;
    this.stateTime[runstateCode(from)]! += now - this.stateEntry;
    this.state = to;
    this.stateEntry = now;
    this.owner.vcpuRunstateChanged(this, from, to);
    this.pool?.runstateChanged?.(this, from, to, now);
  }

  /** Starts runstate accounting at `now` in `state` (when the vCPU joins a pool). */
  initRunstate(state: RunstateName, now: number): void {
    const from = this.state;
    this.state = state;
    this.stateEntry = now;
    if (from !== state) {
      this.owner.vcpuRunstateChanged(this, from, state);
      this.pool?.runstateChanged?.(this, from, state, now);
    }
  }

  /** When the current runstate began (virtual ns). */
  get stateEntryTime(): number {
    return this.stateEntry;
  }

  /** Time spent in `state` up to now, the current stretch included: runstateInfo without the allocations. */
  timeIn(state: RunstateName): number {
    return this.timeInCode(runstateCode(state));
  }

  /** {@link timeIn} by RUNSTATE_* number. */
  timeInCode(code: number): number {
    const t = this.stateTime[code]!;
    return code === runstateCode(this.state) ? t + ((this.pool?.now ?? this.stateEntry) - this.stateEntry) : t;
  }

  /**
   * Writes `struct vcpu_runstate_info` at the start of `view` (what Xen copies to a registered area):
   * the state read once, the current stretch counted up to now.
   */
  writeRunstateInfo(view: DataView): void {
    const code = runstateCode(this.state);
    const entry = this.stateEntry;
    const ran = (this.pool?.now ?? entry) - entry;
    view.setInt32(VcpuRunstateInfo.state, code, true);
    // The u64 halves are split here rather than by a helper: called from deep in the scheduler, the
    // helper was not inlined, and every double passed to it was boxed (a heap number per field).
    let hi = Math.floor(entry / 2 ** 32);
    view.setUint32(VcpuRunstateInfo.stateEntryTime, entry - hi * 2 ** 32, true);
    view.setUint32(VcpuRunstateInfo.stateEntryTime + 4, hi, true);
    for (let c = 0; c < RUNSTATE_CODES; c++) {
      const t = Math.floor(c === code ? this.stateTime[c]! + ran : this.stateTime[c]!);
      hi = Math.floor(t / 2 ** 32);
      view.setUint32(VcpuRunstateInfo.time + c * 8, t - hi * 2 ** 32, true);
      view.setUint32(VcpuRunstateInfo.time + c * 8 + 4, hi, true);
    }
  }

  runstateInfo(): RunstateInfo {
    const time = { running: this.timeIn('running'), runnable: this.timeIn('runnable'), blocked: this.timeIn('blocked'), offline: this.timeIn('offline') };
    return { state: this.state, stateEntryTime: this.stateEntry, time };
  }

  /** True when an event is pending; consumes the latch. */
  takePendingEvent(): boolean {
    if (this.eventLatch) {
      this.eventLatch = false;
      return true;
    }
    const sources = this.pendingSources;
    for (let i = 0; i < sources.length; i++) if (sources[i]!.hasPending(this.vcpuId)) return true;
    return false;
  }

  /**
   * Resumes the coroutine until its clock reaches `limit` at a preemption point, it yields a blocking
   * request, ends or throws (the error is left in {@link crashError}).
   */
  run(limit: number): RunOutcome {
    this.segmentEnd = limit;
    let reply = this.resumeWith;
    this.resumeWith = 'continue';
    const coroutine = this.coroutine;
    if (coroutine === null) return 'ended';
    for (;;) {
      let step: IteratorResult<VcpuRequest, void>;
      try {
        step = coroutine.next(reply);
      } catch (error) {
        this.coroutine = null;
        this.deferred = null;
        this.crashError = error;
        return 'crashed';
      }
      if (step.done === true) {
        this.deferred = null;
        if (this.coroutine === coroutine) this.coroutine = null;
        return 'ended';
      }
      let request = step.value;
      if (this.deferred !== null) {
        // A plain hypercall() that blocks: honoured here in place of a preemption point; a blocking request the program yields itself wins.
        if (request?.op === 'preempt') request = this.deferred;
        this.deferred = null;
      }
      if (request?.op === 'preempt') {
        if (this.clock >= limit || !this.runnable) return 'preempted';
        reply = 'continue';
        continue;
      }
      this.pending = request;
      return 'request';
    }
  }

  setProgram(program: VcpuProgram | null): void {
    const was = this.runnable;
    this.cancelWakeTimer();
    this.pending = null;
    this.deferred = null;
    this.resumeWith = 'continue';
    this.eventLatch = false;
    this.ioDone = false;
    if (program === null) {
      this.coroutine = null;
      this.pauseFlags |= VPF_BLOCKED;
      this.waitingOn = 'idle';
    } else {
      this.coroutine = program(this.api);
      this.pauseFlags &= ~VPF_BLOCKED;
      this.waitingOn = null;
    }
    this.pool?.update(this, was);
  }

  kick(): void {
    if (this.pool !== null) this.pool.kick(this);
    else if (this.coroutine !== null) this.eventLatch = true;
  }

  /** A device model completed this vCPU's forwarded access (ioreq server `complete`): it resumes. */
  completeIo(): void {
    if (this.pool !== null) this.pool.ioComplete(this);
    else this.ioDone = true;
  }

  addPendingSource(source: PendingSource): void {
    if (!this.pendingSources.includes(source)) this.pendingSources = [...this.pendingSources, source];
  }

  removePendingSource(source: PendingSource): void {
    this.pendingSources = this.pendingSources.filter((s) => s !== source);
  }

  setHardAffinity(mask: CpuMask): void {
    if (this.pool !== null) this.pool.setHardAffinity(this, mask);
    else this.hardAffinity = mask;
  }

  up(): void {
    this.setFlag(VPF_DOWN, false);
  }
  down(): void {
    this.setFlag(VPF_DOWN, true);
  }

  /** Sets or clears a pause flag and lets the pool react. */
  setFlag(flag: number, on: boolean): void {
    const was = this.runnable;
    this.pauseFlags = on ? this.pauseFlags | flag : this.pauseFlags & ~flag;
    this.pool?.update(this, was);
    // Blocked and brought down (or up again while blocked): runnability is unchanged, the runstate is not.
    if (this.pool !== null && !was && !this.runnable && this.runningOn === undefined) this.setRunstate(this.idleRunstate(), this.pool.now);
  }

  cancelWakeTimer(): void {
    if (this.wakeTimer !== null) {
      this.pool?.cancelTimer(this.wakeTimer);
      this.wakeTimer = null;
    }
  }
}

/** The machinery under sched_op / vcpu_op / set_timer_op: per-domain state, vCPU timers raising VIRQ_TIMER, PV time, wallclock and runstate areas. */
import type { RunstateName, SharedInfoPage, VcpuProgram } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import type { HypervisorContext } from '../host/subsystem.js';
import { SHUTDOWN, type ShutdownReason } from '../public/sched.js';
import { VcpuInfo, VcpuTimeInfo, XEN_PVCLOCK_TSC_STABLE_BIT } from '../public/shared-info.js';
import { VcpuRunstateInfo } from '../public/vcpu.js';
import { pcpuId } from '../public/types.js';
import { DEFAULT_BOOT_EPOCH_NS, setTimeScale, vcpuTimeInfoHolds, wallclockOf, writeVcpuTimeInfo, writeVcpuTimeInfoNumbers, writeWallclock, type TimeScale, type VcpuTimeSample } from '../timer/pv-time.js';
import { DEFAULT_MAX_PORTS, DomainSchedState, NO_PORTS, EVENT_CHANNELS_TOKEN, VIRQ_TIMER, type EventChannelHooks, type PvGuestExtras, type SchedOps, type VcpuSchedState } from './sched-state.js';
import type { VcpuImpl } from './vcpu.js';
import type { Timer } from '../timer/timer.js';

/** How often each pCPU's time is calibrated (Xen's EPOCH): its stamp is the TSC and system time at a multiple of this. */
export const CALIBRATION_NS = 1_000_000_000;

/** The system time of the last calibration at `at` (whole ns). */
function calibrationOf(at: number): number {
  return Math.max(0, Math.floor(at / CALIBRATION_NS) * CALIBRATION_NS);
}

/** Options of the scheduling-ops subsystem. */
export interface SchedOpsOptions {
  /** The wallclock at system time 0, ns since the Unix epoch; default 2026-01-01T00:00:00Z. Never the host's date. */
  bootEpochNs?: bigint;
}

/** Xen's set_timer_op guard: offsets at or past 2^50 ns (~13 days) are a guest's wrapped jiffies, answered in 100 ms. */
const HUGE_TIMEOUT_NS = 2 ** 50;
const HUGE_TIMEOUT_FALLBACK_NS = 100_000_000;

const SHUTDOWN_NAMES = new Map<number, ShutdownReason>((Object.entries(SHUTDOWN) as [ShutdownReason, number][]).map(([name, nr]) => [nr, name]));

/** The name of a SHUTDOWN_* number; −EINVAL for one Xen does not define. */
export function shutdownReasonOf(code: number, domid: number): ShutdownReason {
  const name = SHUTDOWN_NAMES.get(code);
  if (name === undefined) throw new GuestError('EINVAL', `unknown shutdown reason ${code}`, { domid });
  return name;
}

/** The shared machinery, one per host. Also the in-core API ({@link SchedOps}). */
export class SchedCore implements SchedOps {
  readonly timeScale: TimeScale;
  bootEpochNs: bigint;
  private readonly domains = new Map<number, DomainSchedState>();

  constructor(
    readonly ctx: HypervisorContext,
    options: SchedOpsOptions = {},
  ) {
    this.timeScale = setTimeScale(BigInt(ctx.timers.tsc.khz) * 1000n);
    this.bootEpochNs = options.bootEpochNs ?? DEFAULT_BOOT_EPOCH_NS;
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** The event-channel API, looked up now (it may register after this subsystem). */
  eventChannels(): EventChannelHooks | undefined {
    // Resolved once found: the event-channel subsystem registers one instance for the host's life, and every timer tick asks.
    if (this.evtchn !== undefined) return this.evtchn;
    const c = this.ctx.container;
    this.evtchn = c.isRegistered(EVENT_CHANNELS_TOKEN, true) ? c.resolve(EVENT_CHANNELS_TOKEN) : undefined;
    return this.evtchn;
  }
  private evtchn: EventChannelHooks | undefined;

  maxPorts(domid: number): number {
    return this.eventChannels()?.maxPorts?.(domid) ?? DEFAULT_MAX_PORTS;
  }

  /** The vCPU `vcpu` of a live domain, or undefined. */
  vcpu(domid: number, vcpu: number): VcpuImpl | undefined {
    return this.ctx.domains.get(domid)?.vcpus[vcpu] as VcpuImpl | undefined;
  }

  /** "Now" for a hypercall: the caller's local clock, or global time when it is not running (a toolstack or test calling in). */
  nowFor(localTime: number): number {
    return Math.max(localTime, this.ctx.engine.now);
  }

  /** Ends a vCPU's poll registration (it woke, or polls again). */
  endPoll(s: VcpuSchedState): void {
    s.pollPorts = NO_PORTS;
    const cancel = s.pollCancel;
    s.pollCancel = undefined;
    cancel?.();
  }

  /** A domain's state, made on first use (each vCPU then holds its own record: {@link VcpuImpl.schedState}). */
  domain(domid: number): DomainSchedState {
    let s = this.domains.get(domid);
    if (s === undefined) {
      const d = this.ctx.domains.lookup(domid);
      const made = new DomainSchedState(d.vcpus.length);
      d.vcpus.forEach((v, i) => ((v as VcpuImpl).schedState = made.vcpus[i]));
      this.domains.set(domid, made);
      s = made;
    }
    return s;
  }

  /** `v`'s domain's shared-info page, kept in its sched state once found (switch-in and SCHEDOP_block ask for it every tick). */
  sharedOf(v: VcpuImpl): SharedInfoPage | undefined {
    const s = v.schedState;
    if (s === undefined) return this.ctx.sharedInfoOf(v.domid);
    return (s.shared ??= this.ctx.sharedInfoOf(v.domid));
  }

  vcpuState(v: VcpuImpl): VcpuSchedState {
    return v.schedState ?? this.domain(v.domid).vcpus[v.vcpuId]!;
  }

  /** Drops a domain's state, and its vCPUs' hold on it. */
  private forget(domid: number): void {
    this.domains.delete(domid);
    for (const v of this.ctx.domains.get(domid)?.vcpus ?? []) (v as VcpuImpl).schedState = undefined;
  }

  /** Xen's is_initialised: set by VCPUOP_initialise, and true of a vCPU that is up or has run a program. */
  isInitialised(v: VcpuImpl): boolean {
    return this.vcpuState(v).initialised || v.isUp || v.hasProgram;
  }

  // --- timers ----------------------------------------------------------------------------------

  /** Xen's send_timer_event: VIRQ_TIMER to the vCPU. */
  sendTimerEvent(v: VcpuImpl): void {
    this.eventChannels()?.sendVirq(v.domid, v.vcpuId, VIRQ_TIMER);
  }

  /** Every vCPU's singleshot timer runs this, its vCPU the timer's data (no closure per vCPU). */
  private readonly singleshotFired = (_now: number, timer: Timer): void => this.sendTimerEvent(timer.data as VcpuImpl);

  /** Arms the singleshot timer at absolute `expires` (set in the past, it fires at once); as in Xen, the vCPU's time record is left alone. */
  setSingleshot(v: VcpuImpl, expires: number): void {
    const s = this.vcpuState(v);
    s.singleshot ??= this.ctx.timers.initTimer(this.singleshotFired, v.processor, v);
    s.singleshot.migrate(v.processor);
    s.singleshot.set(expires);
  }

  stopSingleshot(v: VcpuImpl): void {
    this.vcpuState(v).singleshot?.stop();
  }

  /** set_timer_op: absolute timeout, 0 cancels; wrapped or absurdly far timeouts fire in 100 ms (Xen's workaround). */
  setTimerOp(v: VcpuImpl, timeout: number, now: number): void {
    if (timeout === 0) return this.stopSingleshot(v);
    const offset = timeout - now;
    if (!(timeout >= 0) || !(offset < HUGE_TIMEOUT_NS)) {
      this.ctx.log.info(`dom${v.domid} vcpu${v.vcpuId}: huge timeout set: ${timeout}`);
      return this.setSingleshot(v, now + HUGE_TIMEOUT_FALLBACK_NS);
    }
    this.setSingleshot(v, timeout);
  }

  /** Xen's vcpu_set_periodic_timer: period 0 stops it; a new period starts counting now. */
  setPeriodic(v: VcpuImpl, period: number, now: number): void {
    const s = this.vcpuState(v);
    if (s.periodicPeriod === period) return;
    s.periodic?.stop();
    s.periodicPeriod = period;
    if (period === 0) return;
    s.periodicLast = now;
    s.periodic ??= this.ctx.timers.initTimer((at) => this.periodicFired(v, s, at), v.processor);
    s.periodic.set(now + period);
    this.updateTime(v, now);
  }

  private periodicFired(v: VcpuImpl, s: VcpuSchedState, now: number): void {
    if (s.periodicPeriod === 0) return;
    let next = s.periodicLast + s.periodicPeriod;
    if (now >= next) {
      this.sendTimerEvent(v);
      s.periodicLast = now;
      next = now + s.periodicPeriod;
    }
    s.periodic!.migrate(v.processor);
    s.periodic!.set(next);
  }

  /** SCHEDOP_watchdog (Xen's domain_watchdog): id 0 takes a free slot and returns its id; else pokes (timeout > 0) or frees it. */
  watchdog(domid: number, id: number, timeoutSec: number, now: number, slots: number): number {
    const s = this.domain(domid);
    if (id === 0) {
      for (let i = 0; i < slots; i++) {
        if (s.watchdogs[i] !== undefined) continue;
        const t = this.ctx.timers.initTimer(() => this.watchdogFired(domid), pcpuId(0));
        s.watchdogs[i] = t;
        t.set(now + timeoutSec * 1e9);
        return i + 1;
      }
      throw new GuestError('ENOSPC', `dom${domid}: all ${slots} watchdogs are in use`, { domid });
    }
    const timer = s.watchdogs[id - 1];
    if (id > slots || timer === undefined) throw new GuestError('EINVAL', `dom${domid}: no watchdog ${id}`, { domid });
    if (timeoutSec === 0) {
      timer.kill();
      s.watchdogs[id - 1] = undefined;
    } else timer.set(now + timeoutSec * 1e9);
    return 0;
  }

  private watchdogFired(domid: number): void {
    const d = this.ctx.domains.get(domid);
    if (d === undefined || d.shutdownReason !== undefined || d.state === 'dying' || d.state === 'dead') return;
    this.ctx.log.warn(`watchdog timer fired for domain ${domid}`);
    this.shutdown(domid, SHUTDOWN.watchdog);
  }

  /** Xen's domain_shutdown: a latched SCHEDOP_shutdown_code wins over `reason`. */
  shutdown(domid: number, reason: number): void {
    const code = this.domains.get(domid)?.shutdownCode ?? reason;
    this.ctx.domains.shutdown(domid, shutdownReasonOf(code, domid));
  }

  // --- PV time ---------------------------------------------------------------------------------

  /**
   * The vcpu_time_info sample of `v` at virtual time `at`: its pCPU's calibration stamp then (Xen's
   * `t->stamp`: the TSC and system time of the last calibration, made every {@link CALIBRATION_NS}).
   */
  sample(v: VcpuImpl, at: number): VcpuTimeSample {
    const t = calibrationOf(at);
    return { tscTimestamp: this.ctx.timers.tsc.read(v.processor, t), systemTime: BigInt(t), scale: this.timeScale, flags: XEN_PVCLOCK_TSC_STABLE_BIT };
  }

  /**
   * Xen's __update_vcpu_system_time: `v`'s vcpu_info time becomes its pCPU's calibration stamp at `at`
   * (seqlock: version odd, fields, version even), then the registered secondary copy. Unless `force`d,
   * nothing is written when the record already holds that stamp (Xen's memcmp test): a vCPU scheduled in
   * again on a pCPU of the same calibration sees the same record.
   */
  updateTime(v: VcpuImpl, at: number, force = false): void {
    const shared = this.sharedOf(v);
    if (shared === undefined) return;
    const loc = shared.vcpuInfo(v.vcpuId);
    const offset = loc.offset + VcpuInfo.time;
    const t = calibrationOf(at);
    const tsc = this.ctx.timers.tsc.readNumber(v.processor, t);
    if (tsc !== undefined) {
      if (!force && vcpuTimeInfoHolds(loc.view, offset, tsc, t, this.timeScale, XEN_PVCLOCK_TSC_STABLE_BIT)) return;
      writeVcpuTimeInfoNumbers(loc.view, offset, tsc, t, this.timeScale, XEN_PVCLOCK_TSC_STABLE_BIT);
    } else writeVcpuTimeInfo(loc.view, offset, this.sample(v, at));
    const area = v.schedState?.timeArea ?? 0;
    // The secondary copy is the primary record as it now stands (its even version included).
    if (area !== 0) {
      const copy = this.timeScratch;
      const bytes = loc.bytes;
      for (let i = 0; i < VcpuTimeInfo.size; i++) copy[i] = bytes[offset + i]!;
      this.copyToVcpu(v, area, copy);
    }
  }

  /** Where {@link updateTime} copies the record for the secondary area (no view made per switch). */
  private readonly timeScratch = new Uint8Array(VcpuTimeInfo.size);

  /** A runstate record as `VCPUOP_get_runstate_info` returns it, in a scratch buffer valid until the next call. */
  runstateBytes(v: VcpuImpl): Uint8Array {
    v.writeRunstateInfo(this.runstateView);
    return this.runstateScratch;
  }

  /**
   * Where {@link runstateBytes} builds a record, rewritten on every call: callers copy it into guest
   * memory at once (every runstate change writes the registered area, so no allocation per switch).
   */
  private readonly runstateScratch = new Uint8Array(VcpuRunstateInfo.size);
  private readonly runstateView = new DataView(this.runstateScratch.buffer);

  /** Writes into `v`'s address space (its registered areas); a bad address is ignored, as Xen ignores it. */
  copyToVcpu(v: VcpuImpl, addr: number, bytes: Uint8Array): boolean {
    try {
      v.guest.write(addr, bytes);
      return true;
    } catch (error) {
      if (error instanceof GuestError) return false;
      throw error;
    }
  }

  /** The runner's hook: PV time on context switch in, and the registered runstate area on every switch in or out. */
  readonly runstateHook = (v: VcpuImpl, from: RunstateName, to: RunstateName, now: number): void => {
    const s = v.schedState;
    if (to === 'running') {
      this.updateTime(v, now);
      if (s !== undefined && s.pollPorts.length > 0 && !v.isPolling) this.endPoll(s);
    }
    // As Xen's context_switch: the area is written when the vCPU is switched out and in, not when a
    // wake-up makes it runnable (the guest sees that at its next switch).
    if (s !== undefined && s.runstateArea !== 0 && (from === 'running' || to === 'running')) this.copyToVcpu(v, s.runstateArea, this.runstateBytes(v));
  };

  /** Writes the wallclock (boot epoch) into a domain's shared_info. */
  writeWallclockOf(domid: number): void {
    const shared = this.ctx.sharedInfoOf(domid);
    if (shared !== undefined) writeWallclock(shared.view, wallclockOf(this.bootEpochNs));
  }

  // --- lifecycle -------------------------------------------------------------------------------

  domainCreated(domid: number): void {
    this.forget(domid);
    this.writeWallclockOf(domid);
    const d = this.ctx.domains.get(domid);
    for (const v of d?.vcpus ?? []) this.updateTime(v as VcpuImpl, this.ctx.engine.now, true);
  }

  /** Kills every timer of a domain that is going away. */
  domainDying(domid: number): void {
    const s = this.domains.get(domid);
    if (s === undefined) return;
    for (const v of s.vcpus) {
      this.endPoll(v);
      v.singleshot?.kill();
      v.periodic?.kill();
      v.periodicPeriod = 0;
    }
    for (const t of s.watchdogs) t?.kill();
    s.watchdogs.length = 0;
  }

  domainDestroyed(domid: number): void {
    this.domainDying(domid);
    this.forget(domid);
  }

  disposeAll(): void {
    for (const domid of [...this.domains.keys()]) this.domainDestroyed(domid);
  }

  // --- the in-core API -------------------------------------------------------------------------

  checkPollers(domid: number, port: number): void {
    const s = this.domains.get(domid);
    const d = this.ctx.domains.get(domid);
    if (s === undefined || d === undefined) return;
    s.vcpus.forEach((vs, i) => {
      if (vs.pollPorts.length === 0) return;
      const v = d.vcpus[i] as VcpuImpl | undefined;
      if (v === undefined || !v.isPolling) return this.endPoll(vs);
      if (vs.pollPorts.length > 1 || vs.pollPorts[0] === port) {
        this.endPoll(vs);
        v.kick();
      }
    });
  }

  setEntryPoint(domid: number, rip: number, program: VcpuProgram): () => void {
    const entries = this.domain(domid).entryPoints;
    entries.set(rip, program);
    return () => {
      if (entries.get(rip) === program) entries.delete(rip);
    };
  }

  setWallclock(sec: number | bigint, nsec: number, systemTimeNs: number = this.ctx.engine.now): void {
    this.bootEpochNs = BigInt(sec) * 1_000_000_000n + BigInt(Math.floor(nsec)) - BigInt(Math.floor(systemTimeNs));
    for (const d of this.ctx.domains.list()) this.writeWallclockOf(d.domid);
  }

  updateVcpuTime(domid: number, vcpu: number): void {
    const v = this.vcpu(domid, vcpu);
    if (v === undefined) throw new GuestError('ESRCH', `no vcpu${vcpu} in dom${domid}`, { domid });
    this.updateTime(v, Math.max(v.localTime, this.ctx.engine.now), true);
  }

  /** Xen's local_time_calibration: each pCPU's new stamp goes to the vCPU running there now (the others get it when scheduled in). */
  calibrate(now: number): void {
    const pool = this.ctx.pool;
    for (const cpu of pool.cpus) {
      const v = pool.pcpu(cpu).current as VcpuImpl | null;
      if (v !== null) this.updateTime(v, now);
    }
  }

  takeNmi(domid: number, vcpu: number): boolean {
    const s = this.domains.get(domid)?.vcpus[vcpu];
    if (s === undefined || !s.nmiPending) return false;
    s.nmiPending = false;
    return true;
  }

  pvGuestExtras(domid: number, vcpu: number): PvGuestExtras | undefined {
    return this.domains.get(domid)?.vcpus[vcpu]?.pvExtras;
  }

  /** Debug dump: timers and registered areas per vCPU. */
  dump(): string {
    const lines = [`sched-op: boot epoch ${this.bootEpochNs} ns, tsc scale mul 0x${this.timeScale.mulFrac.toString(16)} shift ${this.timeScale.shift}`];
    for (const [domid, s] of [...this.domains].sort((a, b) => a[0] - b[0])) {
      s.vcpus.forEach((v, i) => {
        const parts = [`dom${domid} vcpu${i}:`];
        if (v.singleshot?.active) parts.push(`singleshot @${v.singleshot.expires}`);
        if (v.periodicPeriod > 0) parts.push(`periodic ${v.periodicPeriod} ns`);
        if (v.runstateArea !== 0) parts.push(`runstate area 0x${v.runstateArea.toString(16)}`);
        if (v.pollPorts.length > 0) parts.push(`polling ${v.pollPorts.join(',')}`);
        if (parts.length > 1) lines.push(`  ${parts.join(' ')}`);
      });
      const dogs = s.watchdogs.filter((t) => t?.active).length;
      if (dogs > 0 || s.shutdownCode !== undefined) lines.push(`  dom${domid}: watchdogs ${dogs}, shutdown_code ${s.shutdownCode ?? '-'}`);
    }
    return lines.join('\n');
  }
}

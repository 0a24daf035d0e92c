/** State shared by sched_op, vcpu_op and PV time: per-domain and per-vCPU records, the event-channel hooks they use, and their in-core API. */
import type { InjectionToken } from 'tsyringe';
import type { SharedInfoPage, VcpuProgram } from '../api/domain.js';
import type { CpuMask } from '../api/scheduler.js';
import type { Timer } from '../timer/timer.js';
import type { TimeScale } from '../timer/pv-time.js';

/**
 * What scheduling ops need from the event-channel subsystem, resolved lazily (at call time) from the
 * host container under {@link EVENT_CHANNELS_TOKEN}: SCHEDOP_poll reads port state, timers raise VIRQ_TIMER.
 */
export interface EventChannelHooks {
  /** True when `port` of `domid` is pending (masked or not). */
  isPending(domid: number, port: number): boolean;
  /** Raises `virq` on vCPU `vcpu` of `domid` (nothing happens when the guest has not bound it). */
  sendVirq(domid: number, vcpu: number, virq: number): unknown;
  /** Ports the domain may use (`max_evtchns`); 4096 (the 2-level ABI) when absent. */
  maxPorts?(domid: number): number;
  /**
   * Kicks vCPU `vcpu` when one of `ports` becomes pending, masked or not, until the returned function
   * is called (Xen's poll_mask + evtchn_check_pollers). Without it, the event-channel code must call
   * {@link SchedOps.checkPollers}. The list is kept as given (not copied).
   */
  pollPorts?(domid: number, vcpu: number, ports: readonly number[]): () => void;
}
/** The event-channel engineer's in-core API token. */
export const EVENT_CHANNELS_TOKEN = Symbol.for('xenoserver:EventChannels') as InjectionToken<EventChannelHooks>;

/** `VIRQ_TIMER` (xen.h): per-vCPU, raised by the singleshot and periodic timers. */
export const VIRQ_TIMER = 0;
/** EVTCHN_2L_NR_CHANNELS on 64-bit: the port limit when the event-channel API does not say. */
export const DEFAULT_MAX_PORTS = 4096;

/** PV-only parts of a vcpu_guest_context that have no place in the register file, kept as the guest gave them. */
export interface PvGuestExtras {
  readonly flags: number;
  readonly kernelSs: number;
  readonly kernelSp: number;
  readonly ldtBase: number;
  readonly ldtEnts: number;
  readonly gdtFrames: readonly number[];
  readonly gdtEnts: number;
  readonly eventCallbackEip: number;
  readonly failsafeCallbackEip: number;
  readonly syscallCallbackEip: number;
  readonly vmAssist: number;
  /** ctrlreg[1]: the user-mode page table (x86-64 PV). */
  readonly userCr3: number;
}

/** An empty port list (no poll). */
export const NO_PORTS: readonly number[] = Object.freeze([]);

/** One vCPU's timers, registered areas and hotplug state. */
export class VcpuSchedState {
  /** VCPUOP_set_singleshot_timer / set_timer_op. */
  singleshot: Timer | undefined;
  /** VCPUOP_set_periodic_timer. */
  periodic: Timer | undefined;
  periodicPeriod = 0;
  periodicLast = 0;
  /** VCPUOP_register_runstate_memory_area: a guest address kept updated (0 = none). */
  runstateArea = 0;
  /** VCPUOP_register_vcpu_time_memory_area: a secondary vcpu_time_info (0 = none). */
  timeArea = 0;
  /** SCHEDOP_poll: the ports being polled (Xen's poll_evtchn: one port, or any for several). */
  pollPorts: readonly number[] = NO_PORTS;
  /** Ends a poll registered with the event-channel API's `pollPorts`. */
  pollCancel: (() => void) | undefined;
  /** VCPUOP_initialise ran (Xen's is_initialised); vCPUs that are up or have a program count as initialised too. */
  initialised = false;
  /** Initialised but not yet started: VCPUOP_up starts the program at the context's RIP. */
  startPending = false;
  /** SCHEDOP_pin_override: the affinity to restore. */
  savedAffinity: CpuMask | undefined;
  /** VCPUOP_send_nmi: an NMI waits for the vCPU. */
  nmiPending = false;
  pvExtras: PvGuestExtras | undefined;
  /** The domain's shared-info page, found once (it lives as long as the domain; this state is dropped with it). */
  shared: SharedInfoPage | undefined;
}

/** One domain's scheduling-ops state. */
export class DomainSchedState {
  readonly vcpus: VcpuSchedState[];
  readonly watchdogs: (Timer | undefined)[] = [];
  /** SCHEDOP_shutdown_code: the reason the next shutdown reports (Xen's shutdown_code). */
  shutdownCode: number | undefined;
  /** Guest code by entry point: the programs VCPUOP_up starts (see {@link SchedOps.setEntryPoint}). */
  readonly entryPoints = new Map<number, VcpuProgram>();

  constructor(nrVcpus: number) {
    this.vcpus = Array.from({ length: nrVcpus }, () => new VcpuSchedState());
  }
}

/**
 * The scheduling ops' in-core API, registered in the host container under {@link SchedOps}.
 */
export interface SchedOps {
  /** The TSC→ns scale every vcpu_time_info carries. */
  readonly timeScale: TimeScale;
  /** The wallclock at system time 0, ns since the Unix epoch (written to every shared_info). */
  readonly bootEpochNs: bigint;
  /**
   * Xen's `evtchn_check_pollers`: the event-channel code calls it when `port` of `domid` becomes
   * pending, masked or not, so a vCPU in SCHEDOP_poll on it wakes (an unmasked event's kick wakes it anyway).
   */
  checkPollers(domid: number, port: number): void;
  /**
   * Guest code at `rip` (the domain's "kernel image"): a vCPU that VCPUOP_initialise gave this RIP runs
   * `program` when VCPUOP_up starts it. Throws `GuestError('ESRCH')` for an unknown domain. Returns a remover.
   */
  setEntryPoint(domid: number, rip: number, program: VcpuProgram): () => void;
  /** XENPF_settime (Xen's do_settime): the wallclock reads `sec`.`nsec` at system time `systemTimeNs` (default now); every domain's shared_info follows. */
  setWallclock(sec: number | bigint, nsec: number, systemTimeNs?: number): void;
  /** Rewrites a vCPU's vcpu_time_info now (after its TSC changed, say). */
  updateVcpuTime(domid: number, vcpu: number): void;
  /** VCPUOP_send_nmi's latch: true once, then cleared (for whatever delivers NMIs). */
  takeNmi(domid: number, vcpu: number): boolean;
  /** The PV-only parts of the last VCPUOP_initialise of a PV vCPU. */
  pvGuestExtras(domid: number, vcpu: number): PvGuestExtras | undefined;
}
export const SchedOps = Symbol.for('xenoserver:SchedOps') as InjectionToken<SchedOps>;

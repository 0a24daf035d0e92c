/**
 * Per-CPU state (FreeBSD's `struct pcpu`): the vCPU it runs on, its own hypercall pages and event
 * waiting, its interrupt handlers, its run queue of kernel threads and its counters. CPU 0 is the boot
 * CPU; APs get theirs when they start (options SMP).
 */
import type { VcpuApi } from '../../../../core/api/index.js';
import type { EventWaiter } from '../dev/xen/evtchn.js';
import type { Hypervisor } from '../dev/xen/hypervisor.js';
import type { XenOps } from '../dev/xen/xen_ops.js';
import type { IntrHandler } from './kern_intr.js';
import type { KThread } from './kern_thread.js';

/** Offsets in a CPU's area page: the runstate record Xen keeps current, then the vcpu_time_info copy. */
export const PCPU_RUNSTATE = 0;
export const PCPU_TIME = 0x40;

/**
 * 0 for a nanosecond field, as a heap number (−0 is never a small integer; it compares equal to 0): a
 * field that starts as a double stays one, so it does not change representation when simulated time
 * passes 2^31 ns — which would deoptimize the idle loop and migrate every CPU's object at once.
 */
export const NS_UNSET = -0;

/** Interrupts taken from one source (a line of `vmstat -i`). */
export interface IntrCounter {
  count: number;
}

export class Pcpu {
  /** The interrupt handlers bound here, in bind order: changed only through {@link addIntr} and {@link removeIntr}. */
  readonly intr: IntrHandler[] = [];
  /**
   * Beside {@link intr}, by the same index: each handler's port, its pushed due time (0 = none) and
   * whether it has a pull-style deadline. An idle round reads these arrays rather than every handler
   * (with a thousand idle guests each handler object is a cache miss per tick).
   */
  readonly intrPorts: number[] = [];
  readonly intrDue: number[] = [];
  readonly intrPull: boolean[] = [];
  /** Handlers of {@link intr} running now (a shell command sleeping inside the console's must not re-enter it); each leaves in a `finally`. */
  readonly intrRunning: IntrHandler[] = [];
  /** The idle loop's wait list: each port of {@link intr} once, kept as handlers come and go. */
  readonly idlePorts: number[] = [];
  /** Kernel threads waiting to run here, oldest first. */
  readonly runq: KThread[] = [];
  /** The thread running now (undefined: the idle loop). */
  curthread: KThread | undefined;
  hv!: Hypervisor;
  ops!: XenOps;
  events!: EventWaiter;
  /** Guest address of the page holding this CPU's runstate and time areas (0 before the clock set it up). */
  area = 0;
  /** Event-channel ports of the timer and of IPIs to this CPU (−1 = none). */
  timerPort = -1;
  ipiPort = -1;
  /** Next hardclock deadline, system time ns (0 = no timer running). */
  nextTick = NS_UNSET;
  /** The deadline this CPU's one-shot event timer is armed for (0 = none known); see {@link armOnce}. */
  armedDeadline = NS_UNSET;
  /** Interrupts taken, by source name (`vmstat -i`). */
  readonly intrCount = new Map<string, IntrCounter>();
  /** Set once the CPU runs its idle loop. */
  online = false;

  constructor(
    readonly id: number,
    readonly v: VcpuApi,
  ) {}

  /** Adds a bound handler (its slot is its index in the lists). */
  addIntr(h: IntrHandler): void {
    this.intrDue.push(h.due);
    h.slot = this.intr.length;
    this.intr.push(h);
    this.intrPorts.push(h.port);
    this.intrPull.push(h.pulls);
    this.rebuildIdlePorts();
  }

  /** Removes a handler, which keeps its due time (no-op when it is not bound here); those after it move down a slot. */
  removeIntr(h: IntrHandler): void {
    const at = this.intr.indexOf(h);
    if (at < 0) return;
    const due = this.intrDue[at]!;
    h.slot = -1;
    h.due = due;
    this.intr.splice(at, 1);
    this.intrPorts.splice(at, 1);
    this.intrDue.splice(at, 1);
    this.intrPull.splice(at, 1);
    for (let i = at; i < this.intr.length; i++) this.intr[i]!.slot = i;
    this.rebuildIdlePorts();
  }

  private rebuildIdlePorts(): void {
    const ports = this.idlePorts;
    ports.length = 0;
    for (const port of this.intrPorts) if (!ports.includes(port)) ports.push(port);
  }

  /** The counter of interrupts from `source`, made at the first ask: a handler keeps its own and bumps it per interrupt. */
  intrCounter(source: string): IntrCounter {
    let counter = this.intrCount.get(source);
    if (counter === undefined) {
      counter = { count: 0 };
      this.intrCount.set(source, counter);
    }
    return counter;
  }
}

/**
 * Arms `cpu`'s one-shot timer through `arm` unless it is already armed for `deadline` and that is still
 * ahead: the idle wait and hardclock both ask for the next tick, and each arm is a hypercall (PV timer)
 * or two VM exits (LAPIC timer).
 */
export function armOnce(cpu: Pcpu, deadline: number, arm: (deadline: number) => void): void {
  if (deadline === cpu.armedDeadline && deadline > cpu.v.now) return;
  cpu.armedDeadline = deadline;
  arm(deadline);
}

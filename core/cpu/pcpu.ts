/** A physical CPU: what it runs now, its idle vCPU, the pending schedule event and its time accounting. */
import type { EventHandle } from '../engine/event-queue.js';
import type { PcpuInfo } from '../api/scheduler.js';
import { DOMID_IDLE } from '../public/xen.js';
import type { DomId, PcpuId, VcpuId } from '../public/types.js';
import type { VcpuImpl } from './vcpu.js';

/** The idle vCPU of a pCPU (Xen's idle domain, `DOMID_IDLE`, vCPU id = pCPU id). It runs when nothing else does. */
export interface IdleVcpu {
  readonly domid: DomId;
  readonly vcpuId: VcpuId;
}

const noop = (): void => {};

export class Pcpu {
  readonly idle: IdleVcpu;
  /** The vCPU running here; `null` while the idle vCPU runs. */
  current: VcpuImpl | null = null;
  /** The last vCPU whose state is loaded (lazy context switch: going idle and back costs nothing). */
  loaded: VcpuImpl | null = null;
  /** When the scheduler's slice ends. */
  sliceEnd = Infinity;
  /** The next engine event of this pCPU (segment end, or a scheduled reschedule). */
  event: EventHandle | null = null;
  /** `SCHEDULE_SOFTIRQ` raised: reschedule at the end of the current segment. */
  softirq = false;
  /** Inside `doSchedule`: tickles of this pCPU are moot. */
  inSchedule = false;
  busyTime = 0;
  idleTime = 0;
  switches = 0;
  /** Since when the current busy/idle period runs. */
  since = 0;
  /** The pool's schedule() and segment end for this pCPU, made once (an engine event per segment allocates no closure). */
  onSchedule: () => void = noop;
  onSegmentDone: () => void = noop;

  constructor(readonly id: PcpuId) {
    this.idle = { domid: DOMID_IDLE as DomId, vcpuId: id as number as VcpuId };
  }

  /** Closes the current busy or idle period at `now`. */
  account(now: number): void {
    if (this.current === null) this.idleTime += now - this.since;
    else this.busyTime += now - this.since;
    this.since = now;
  }

  info(now: number): PcpuInfo {
    const open = now - this.since;
    return {
      cpu: this.id,
      current: this.current,
      busyTime: this.busyTime + (this.current === null ? 0 : open),
      idleTime: this.idleTime + (this.current === null ? open : 0),
      switches: this.switches,
    };
  }
}

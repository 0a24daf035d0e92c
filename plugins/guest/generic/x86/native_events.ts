/**
 * How a native (HVM) kernel waits: HLT, then the local APIC's interrupts. It stands in for the
 * event-channel {@link EventWaiter} of the Xen kernels, with IDT vectors where those have ports, so the
 * idle loop and per-CPU handlers (kern/idle.ts) run unchanged.
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import type { EventWaiter } from '../dev/xen/evtchn.js';
import type { IntrVectors } from './intr.js';

export class NativeEvents implements EventWaiter {
  readonly method = 'HLT, local APIC interrupts';

  constructor(
    private readonly v: VcpuApi,
    private readonly intr: IntrVectors,
    /** Arms the local APIC timer for system time `deadline`. */
    private readonly arm: (deadline: number) => void,
    /** The hardclock deadline the timer must also keep (0 = none). */
    private readonly nextTick: () => number,
  ) {}

  /** `port` is an IDT vector here: true when it was taken since the last look. */
  consume(port: number): boolean {
    return this.intr.takeFired(port);
  }

  *wait(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown> {
    if (ports.some((p) => this.intr.hasFired(p))) return;
    const deadlines = [timeout, this.nextTick()].filter((d) => d > 0);
    if (deadlines.length > 0) this.arm(Math.min(...deadlines));
    yield* this.intr.halt();
  }

  notify(port: number): void {
    throw new Error(`native: no event channel ${port} to notify (HVM guest without PV drivers, vcpu${this.v.vcpuId})`);
  }
}

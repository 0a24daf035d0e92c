/**
 * Event channels by vector callback (FreeBSD's xen_intr.c on HVM): upcalls are unmasked, Xen injects
 * the callback vector when a port becomes pending, and the vector's handler acknowledges the upcall
 * (upcall_pending and pending_sel cleared, so Xen sends the next one) — the port handlers then run
 * from the idle loop. Waiting is HLT, not SCHEDOP_poll.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../../core/api/index.js';
import { SharedInfo, VcpuInfo } from '../../../../../../core/public/index.js';
import { consumePendingBits, pendingAmong, type EventWaiter } from '../evtchn.js';
import type { Hypervisor } from '../hypervisor.js';
import type { IntrVectors } from '../../../x86/intr.js';

export class CallbackEvents implements EventWaiter {
  readonly method: string;
  /** Upcalls taken. */
  upcalls = 0;

  constructor(
    private readonly v: VcpuApi,
    private readonly hv: Hypervisor,
    private readonly shared: number,
    private readonly intr: IntrVectors,
    vector: number,
    /** Arms this vCPU's timer to fire at system time `deadline` (the PV timer: VCPUOP_set_singleshot_timer). */
    private readonly arm: (deadline: number) => void,
    /** The hardclock deadline the timer must also keep (0 = none). */
    private readonly nextTick: () => number,
  ) {
    this.method = `vector callback 0x${vector.toString(16)}, HLT`;
    v.memory.writeU8(this.vcpuInfo + VcpuInfo.evtchnUpcallMask, 0);
  }

  private get vcpuInfo(): number {
    return this.shared + SharedInfo.vcpuInfo + this.v.vcpuId * VcpuInfo.size;
  }

  /** The callback vector's handler: acknowledges the upcall. */
  acknowledge(): void {
    this.upcalls++;
    this.v.memory.writeU8(this.vcpuInfo + VcpuInfo.evtchnUpcallPending, 0);
    this.v.memory.writeU64(this.vcpuInfo + VcpuInfo.evtchnPendingSel, 0);
  }

  private pending(port: number): boolean {
    return (this.v.memory.readU8(this.shared + SharedInfo.evtchnPending + (port >> 3)) & (1 << (port & 7))) !== 0;
  }

  consumeAll(ports: readonly number[], fired: boolean[]): void {
    consumePendingBits(this.v, this.shared, ports, fired);
  }

  consume(port: number): boolean {
    if (!this.pending(port)) return false;
    const at = this.shared + SharedInfo.evtchnPending + (port >> 3);
    this.v.memory.writeU8(at, this.v.memory.readU8(at) & ~(1 << (port & 7)));
    return true;
  }

  /**
   * Halts until an interrupt (the callback vector, or another) arrives. A timeout arms the one-shot
   * timer at the earlier of it and the hardclock deadline, so hardclock keeps running.
   */
  *wait(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown> {
    if (pendingAmong(this.v, this.shared, ports)) return;
    // An upcall flagged before the vector was bound (or raced with its EOI) brings no vector: take it
    // here, or HLT would return at once forever on the pending flag.
    if (this.v.memory.readU8(this.vcpuInfo + VcpuInfo.evtchnUpcallPending) !== 0) {
      this.acknowledge();
      return;
    }
    const deadlines = [timeout, this.nextTick()].filter((d) => d > 0);
    if (deadlines.length > 0) this.arm(Math.min(...deadlines));
    yield* this.intr.halt();
  }

  notify(port: number): void {
    this.hv.evtchnSend(port);
  }
}

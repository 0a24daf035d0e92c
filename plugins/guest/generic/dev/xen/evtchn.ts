/**
 * Waiting for event channels, mini-os style: upcalls stay masked and the kernel sleeps in SCHEDOP_poll
 * on its ports, clearing a port's pending bit in the shared-info page before it looks at that port's ring.
 * Without the shared-info page (PV while paging is off) pending bits cannot be cleared, so the kernel
 * falls back to a periodic tick: it sleeps a tick at a time and looks at its rings after each.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import { SharedInfo, VcpuInfo } from '../../../../../core/public/index.js';
import type { Hypervisor } from './hypervisor.js';

export interface EventWaiter {
  /** How it waits, for the boot log. */
  readonly method: string;
  /** Acknowledges `port` before its ring is looked at: clears its pending bit; true when it was set (or cannot be known). */
  consume(port: number): boolean;
  /** Sleeps until one of `ports` may be pending or virtual time `timeout` (ns; 0 = none). */
  wait(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown>;
  /** Signals the other end of `port`. */
  notify(port: number): void;
}

/** SCHEDOP_poll on our ports, with the shared-info page at guest address `shared`. */
export class PolledEvents implements EventWaiter {
  readonly method = 'SCHEDOP_poll, upcalls masked';

  constructor(
    private readonly v: VcpuApi,
    private readonly hv: Hypervisor,
    private readonly shared: number,
  ) {
    // This vCPU's vcpu_info: hold upcalls off, so pending events wake SCHEDOP_poll only through its ports.
    v.memory.writeU8(shared + SharedInfo.vcpuInfo + v.vcpuId * VcpuInfo.size + VcpuInfo.evtchnUpcallMask, 1);
  }

  consume(port: number): boolean {
    const at = this.shared + SharedInfo.evtchnPending + (port >> 3);
    const bit = 1 << (port & 7);
    const byte = this.v.memory.readU8(at);
    if ((byte & bit) === 0) return false;
    this.v.memory.writeU8(at, byte & ~bit);
    return true;
  }

  *wait(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown> {
    yield* this.hv.poll(ports, timeout);
  }

  notify(port: number): void {
    this.hv.evtchnSend(port);
  }
}

/** The fallback: a tick of `tickNs`, the rings looked at after each. */
export class TickedEvents implements EventWaiter {
  readonly method: string;

  constructor(
    private readonly v: VcpuApi,
    private readonly hv: Hypervisor,
    private readonly tickNs: number,
  ) {
    this.method = `periodic tick of ${tickNs / 1e6} ms (no shared-info page)`;
  }

  consume(): boolean {
    return true;
  }

  *wait(_ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown> {
    const tick = this.v.now + this.tickNs;
    yield this.v.sleepUntil(timeout > 0 ? Math.min(timeout, tick) : tick);
  }

  notify(port: number): void {
    this.hv.evtchnSend(port);
  }
}

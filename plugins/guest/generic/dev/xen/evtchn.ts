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
  /** {@link consume} of each of `ports` at once: `fired[i]` says whether `ports[i]` was pending. */
  consumeAll?(ports: readonly number[], fired: boolean[]): void;
  /** Sleeps until one of `ports` may be pending or virtual time `timeout` (ns; 0 = none). */
  wait(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown>;
  /** {@link wait} without a generator, where it is one request: starts the wait and returns what to yield. */
  startWait?(ports: readonly number[], timeout: number): VcpuRequest;
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

  consumeAll(ports: readonly number[], fired: boolean[]): void {
    consumePendingBits(this.v, this.shared, ports, fired);
  }

  *wait(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown> {
    yield* this.hv.poll(ports, timeout);
  }

  startWait(ports: readonly number[], timeout: number): VcpuRequest {
    this.hv.startPoll(ports, timeout);
    return this.v.preempt();
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

/** Bytes of the pending bitmap one {@link consumePendingBits} copies at most in one piece. */
const SPAN_MAX = 64;
const span = new Uint8Array(SPAN_MAX);

/**
 * Acknowledges `ports` in the shared-info page at guest address `shared`: clears each pending bit and
 * says in `fired[i]` whether `ports[i]`'s was set (left alone for a negative, unbound port). The bytes
 * that hold them are copied out and back in one piece when they lie close together (an idle kernel's
 * handful of ports do), else one by one.
 */
export function consumePendingBits(v: VcpuApi, shared: number, ports: readonly number[], fired: boolean[]): void {
  let lo = Infinity;
  let hi = -1;
  for (const port of ports) {
    if (port < 0) continue;
    lo = Math.min(lo, port >> 3);
    hi = Math.max(hi, port >> 3);
  }
  if (hi < 0) return;
  const base = shared + SharedInfo.evtchnPending;
  const m = v.memory;
  if (hi - lo >= SPAN_MAX) {
    ports.forEach((port, i) => {
      if (port < 0) return;
      const at = base + (port >> 3);
      const byte = m.readU8(at);
      fired[i] = (byte & (1 << (port & 7))) !== 0;
      if (fired[i]) m.writeU8(at, byte & ~(1 << (port & 7)));
    });
    return;
  }
  const bytes = span.subarray(0, hi - lo + 1);
  m.readInto(base + lo, bytes);
  let changed = false;
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i]!;
    if (port < 0) continue;
    const bit = 1 << (port & 7);
    const at = (port >> 3) - lo;
    fired[i] = (bytes[at]! & bit) !== 0;
    if (fired[i]) {
      bytes[at] = bytes[at]! & ~bit;
      changed = true;
    }
  }
  if (changed) m.write(base + lo, bytes);
}

/**
 * Waiting for event channels. The kernel clears a port's pending bit in the shared-info page before it
 * looks at that port's ring. A PVH kernel keeps upcalls masked and sleeps in SCHEDOP_poll on its ports; a
 * PV kernel idles in SCHEDOP_block as PV kernels do (Linux's xen_safe_halt, mini-os's block_domain) and
 * polls only where it waits for chosen ports. Without the shared-info page (PV while paging is off)
 * pending bits cannot be cleared, so the kernel falls back to a periodic tick: it sleeps a tick at a time
 * and looks at its rings after each.
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
  readonly method: string = 'SCHEDOP_poll, upcalls masked';

  constructor(
    protected readonly v: VcpuApi,
    protected readonly hv: Hypervisor,
    protected readonly shared: number,
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

/** What taking an upcall leaves in the first 16 bytes of vcpu_info: upcall_pending 0, upcall_mask 1, pending_sel 0. */
const UPCALL_TAKEN = new Uint8Array(VcpuInfo.evtchnPendingSel + 8);
UPCALL_TAKEN[VcpuInfo.evtchnUpcallMask] = 1;

/**
 * A PV kernel's waiting: the idle CPU sleeps in SCHEDOP_block, which unmasks upcalls; the wake-up is
 * taken as an upcall is (Xen masks upcalls as it enters the callback, the handler clears upcall_pending
 * and pending_sel) just before the ports are acknowledged. Waits with a timeout, and a thread's waits on
 * chosen ports, stay SCHEDOP_poll with upcalls masked: a pending, unmasked upcall would end every poll at once.
 */
export class BlockingEvents extends PolledEvents {
  override readonly method = 'SCHEDOP_block when idle, SCHEDOP_poll on ports';
  /** SCHEDOP_block unmasked upcalls, and no upcall was taken since. */
  private unmasked = false;

  private get vcpuInfo(): number {
    return this.shared + SharedInfo.vcpuInfo + this.v.vcpuId * VcpuInfo.size;
  }

  /** The upcall's entry and acknowledgement, once per unmasking: one write of vcpu_info's first 16 bytes. */
  private takeUpcall(): void {
    if (!this.unmasked) return;
    this.unmasked = false;
    this.v.memory.write(this.vcpuInfo, UPCALL_TAKEN);
  }

  /** Masks upcalls again (before a poll) without taking the one that may be pending: the next idle round takes it. */
  private mask(): void {
    if (!this.unmasked) return;
    this.unmasked = false;
    this.v.memory.writeU8(this.vcpuInfo + VcpuInfo.evtchnUpcallMask, 1);
  }

  override consumeAll(ports: readonly number[], fired: boolean[]): void {
    this.takeUpcall();
    super.consumeAll(ports, fired);
  }

  override *wait(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown> {
    this.mask();
    yield* super.wait(ports, timeout);
  }

  /**
   * The idle wait. SCHEDOP_block wakes on a port's upcall only when its pending_sel bit was clear: a port
   * left pending since the last acknowledgement (a nested round skipped a running handler's port) would
   * not wake it, so such a wait returns at once, and its round acknowledges the port.
   */
  override startWait(ports: readonly number[], timeout: number): VcpuRequest {
    if (timeout !== 0) {
      this.mask();
      return super.startWait(ports, timeout);
    }
    if (!pendingAmong(this.v, this.shared, ports)) {
      this.unmasked = true;
      this.hv.startBlock();
    }
    return this.v.preempt();
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

/** Bytes of the pending bitmap read in one piece at most ({@link readPendingSpan}). */
const SPAN_MAX = 64;
const span = new Uint8Array(SPAN_MAX);
/** {@link span}'s first n bytes for each n, made once (the idle loop reads a span on every round). */
const spanPrefixes = Array.from({ length: SPAN_MAX + 1 }, (_, n) => span.subarray(0, n));
/** How many bytes of {@link span} the last {@link readPendingSpan} filled. */
let spanLength = 0;
/** {@link readPendingSpan}'s answers besides a first byte: no port given, or ports too far apart for one piece. */
const NO_PORT = -1;
const SCATTERED = -2;

/**
 * Copies the bytes of the pending bitmap (in the shared-info page at guest address `shared`) that hold
 * `ports` into {@link span} when they lie close together (an idle kernel's handful of ports do): returns
 * the first byte's index, or NO_PORT / SCATTERED. Negative, unbound ports are left out.
 */
function readPendingSpan(v: VcpuApi, shared: number, ports: readonly number[]): number {
  let lo = Infinity;
  let hi = -1;
  for (const port of ports) {
    if (port < 0) continue;
    lo = Math.min(lo, port >> 3);
    hi = Math.max(hi, port >> 3);
  }
  if (hi < 0) return NO_PORT;
  if (hi - lo >= SPAN_MAX) return SCATTERED;
  spanLength = hi - lo + 1;
  v.memory.readInto(shared + SharedInfo.evtchnPending + lo, spanPrefixes[spanLength]!);
  return lo;
}

/** True when any of `ports` is pending (nothing is cleared). */
export function pendingAmong(v: VcpuApi, shared: number, ports: readonly number[]): boolean {
  const lo = readPendingSpan(v, shared, ports);
  if (lo === NO_PORT) return false;
  const base = shared + SharedInfo.evtchnPending;
  for (const port of ports) {
    if (port < 0) continue;
    const byte = lo === SCATTERED ? v.memory.readU8(base + (port >> 3)) : span[(port >> 3) - lo]!;
    if ((byte & (1 << (port & 7))) !== 0) return true;
  }
  return false;
}

/**
 * Acknowledges `ports` in the shared-info page at guest address `shared`: clears each pending bit and
 * says in `fired[i]` whether `ports[i]`'s was set (left alone for a negative, unbound port). Ports close
 * together are read and written back in one piece, others one by one.
 */
export function consumePendingBits(v: VcpuApi, shared: number, ports: readonly number[], fired: boolean[]): void {
  const lo = readPendingSpan(v, shared, ports);
  if (lo === NO_PORT) return;
  const base = shared + SharedInfo.evtchnPending;
  const m = v.memory;
  if (lo === SCATTERED) {
    ports.forEach((port, i) => {
      if (port < 0) return;
      const at = base + (port >> 3);
      const byte = m.readU8(at);
      fired[i] = (byte & (1 << (port & 7))) !== 0;
      if (fired[i]) m.writeU8(at, byte & ~(1 << (port & 7)));
    });
    return;
  }
  let changed = false;
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i]!;
    if (port < 0) continue;
    const bit = 1 << (port & 7);
    const at = (port >> 3) - lo;
    fired[i] = (span[at]! & bit) !== 0;
    if (fired[i]) {
      span[at] = span[at]! & ~bit;
      changed = true;
    }
  }
  if (changed) m.write(base + lo, spanPrefixes[spanLength]!);
}

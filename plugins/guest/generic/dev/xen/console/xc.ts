/**
 * xc: the Xen PV console (FreeBSD's dev/xen/console) over the console ring (io/console.h). Output goes
 * into a kernel queue and from there into `out` as the backend makes room; input is read from `in`.
 * Newlines leave as CR LF, as a tty with ONLCR sends them.
 */
import type { VcpuApi } from '../../../../../../core/api/index.js';
import { XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface } from '../../../../../../core/public/index.js';
import type { RingLocation } from '../../../boot/init-ops.js';
import type { EventWaiter } from '../evtchn.js';

/** Bytes of output the kernel holds for a backend that does not keep up; older output is dropped. */
export const XC_QUEUE_MAX = 64 * 1024;

const encoder = new TextEncoder();

export class XenConsole {
  private queue: Uint8Array = new Uint8Array(0);
  /** Bytes dropped because the queue overflowed. */
  dropped = 0;
  /** Called whenever {@link backlog} may have changed (the driver makes its handler due while output waits). */
  onBacklog: (() => void) | undefined = undefined;

  constructor(
    private readonly v: VcpuApi,
    private readonly events: EventWaiter,
    readonly ring: RingLocation,
  ) {}

  get port(): number {
    return this.ring.port;
  }

  /** Bytes waiting for room in `out`. */
  get backlog(): number {
    return this.queue.length;
  }

  /** Queues `text` (LF → CR LF) and pushes what fits into the ring. */
  write(text: string): void {
    const bytes = encoder.encode(text.replace(/\r?\n/g, '\r\n'));
    let next = new Uint8Array(this.queue.length + bytes.length);
    next.set(this.queue);
    next.set(bytes, this.queue.length);
    if (next.length > XC_QUEUE_MAX) {
      this.dropped += next.length - XC_QUEUE_MAX;
      next = next.slice(next.length - XC_QUEUE_MAX);
    }
    this.queue = next;
    this.flush();
    this.onBacklog?.();
  }

  /** Moves queued output into `out` as far as there is room; notifies the backend when it wrote any. */
  flush(): void {
    if (this.queue.length === 0) return;
    const m = this.v.memory;
    const base = this.ring.addr;
    const cons = m.readU32(base + XenconsInterface.outCons);
    let prod = m.readU32(base + XenconsInterface.outProd);
    const room = XENCONS_OUT_SIZE - ((prod - cons) >>> 0);
    if (room <= 0 || room > XENCONS_OUT_SIZE) return;
    const n = Math.min(room, this.queue.length);
    let done = 0;
    while (done < n) {
      const at = prod & (XENCONS_OUT_SIZE - 1);
      const chunk = Math.min(n - done, XENCONS_OUT_SIZE - at);
      m.write(base + XenconsInterface.out + at, this.queue.subarray(done, done + chunk));
      done += chunk;
      prod = (prod + chunk) >>> 0;
    }
    m.writeU32(base + XenconsInterface.outProd, prod);
    this.queue = this.queue.slice(n);
    this.events.notify(this.ring.port);
    this.onBacklog?.();
  }

  /** Takes whatever the backend put in `in`; notifies it when it consumed any. */
  read(): Uint8Array {
    const m = this.v.memory;
    const base = this.ring.addr;
    let cons = m.readU32(base + XenconsInterface.inCons);
    const prod = m.readU32(base + XenconsInterface.inProd);
    const n = (prod - cons) >>> 0;
    if (n === 0 || n > XENCONS_IN_SIZE) return new Uint8Array(0);
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const at = cons & (XENCONS_IN_SIZE - 1);
      const chunk = Math.min(n - done, XENCONS_IN_SIZE - at);
      m.readInto(base + XenconsInterface.in + at, out.subarray(done, done + chunk));
      done += chunk;
      cons = (cons + chunk) >>> 0;
    }
    m.writeU32(base + XenconsInterface.inCons, cons);
    this.events.notify(this.ring.port);
    return out;
  }
}

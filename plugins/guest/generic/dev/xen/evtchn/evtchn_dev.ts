/**
 * /dev/xen/evtchn (FreeBSD's dev/xen/evtchn/evtchn_dev.c, the semantics of xen/evtchn.h's ioctls): an
 * open gives a per-user set of bound ports. IOCTL_EVTCHN_BIND_VIRQ, BIND_INTERDOMAIN and
 * BIND_UNBOUND_PORT bind a port to it, UNBIND closes one, NOTIFY sends on one, RESET empties the ring.
 * When a bound port fires it is queued in the ring and disabled; read() takes the queued ports and
 * write() re-enables them (EVTCHNOP_unmask), as user space does after handling them. The ring holds
 * EVTCHN_RING_SIZE ports; more fired ports set the overflow flag, which read() reports.
 */
import type { Kernel } from '../../../kern/kernel.js';

/** Ports the ring holds (PAGE_SIZE / sizeof(evtchn_port_t)). */
export const EVTCHN_RING_SIZE = 1024;

export class EvtchnDev {
  private readonly bound = new Set<number>();
  private readonly disabled = new Set<number>();
  private ring: number[] = [];
  /** More ports fired than the ring holds since the last read. */
  overflow = false;

  constructor(private readonly k: Kernel) {}

  /** Ports bound to this open, ascending. */
  ports(): number[] {
    return [...this.bound].sort((a, b) => a - b);
  }

  private attach(port: number): number {
    this.bound.add(port);
    const dev = this;
    this.k.bindIntr({
      name: `evtchn:${port}`,
      port,
      // eslint-disable-next-line require-yield
      *handle(pending) {
        if (!pending || !dev.bound.has(port) || dev.disabled.has(port)) return false;
        dev.disabled.add(port);
        if (dev.ring.length >= EVTCHN_RING_SIZE) dev.overflow = true;
        else dev.ring.push(port);
        return true;
      },
    });
    return port;
  }

  private owned(port: number): void {
    if (!this.bound.has(port)) throw new Error(`port ${port} is not bound to this evtchn device`);
  }

  /** IOCTL_EVTCHN_BIND_VIRQ (on vCPU 0). */
  bindVirq(virq: number): number {
    return this.attach(this.k.bsp.ops.bindVirq(virq, 0));
  }

  /** IOCTL_EVTCHN_BIND_INTERDOMAIN. */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    return this.attach(this.k.bsp.ops.bindInterdomain(remoteDom, remotePort));
  }

  /** IOCTL_EVTCHN_BIND_UNBOUND_PORT: a port `remoteDom` may bind to. */
  bindUnboundPort(remoteDom: number): number {
    return this.attach(this.k.bsp.ops.allocUnbound(remoteDom));
  }

  /** IOCTL_EVTCHN_UNBIND. */
  unbind(port: number): void {
    this.owned(port);
    this.k.bsp.ops.close(port);
    this.forget(port);
  }

  private forget(port: number): void {
    this.bound.delete(port);
    this.disabled.delete(port);
    this.ring = this.ring.filter((p) => p !== port);
    const handler = this.k.bsp.intr.find((h) => h.name === `evtchn:${port}`);
    if (handler !== undefined) this.k.unbindIntr(handler);
  }

  /** IOCTL_EVTCHN_NOTIFY. */
  notify(port: number): void {
    this.owned(port);
    this.k.bsp.hv.evtchnSend(port);
  }

  /** IOCTL_EVTCHN_RESET: empties the ring and clears the overflow flag. */
  reset(): void {
    this.ring = [];
    this.overflow = false;
  }

  /** Ports fired and queued. */
  get queued(): number {
    return this.ring.length;
  }

  /** read(2): the queued ports (they stay disabled until written back); throws after an overflow, as read returns EFBIG. */
  read(): number[] {
    if (this.overflow) throw new Error('evtchn ring overflowed (EFBIG): reset the device');
    const out = this.ring;
    this.ring = [];
    return out;
  }

  /** write(2): re-enables `ports`. */
  write(ports: readonly number[]): void {
    for (const p of ports) {
      this.owned(p);
      this.disabled.delete(p);
      this.k.bsp.ops.unmask(p);
    }
  }

  /** close(2): unbinds every port. */
  close(): void {
    for (const p of this.ports()) this.unbind(p);
  }
}

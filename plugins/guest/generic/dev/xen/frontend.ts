/**
 * What every xenbus frontend (blkfront, netfront) shares: xenbusb_front's view of a driver, and a base
 * class for the device side — the backend's location, our state in xenstore, following the backend's
 * state (FreeBSD's xenbus_otherend_changed), pages granted to the backend, an event-channel handler.
 */
import type { VcpuRequest } from '../../../../../core/api/index.js';
import { PAGE_SIZE, XenbusState } from '../../../../../core/public/index.js';
import type { Device, Driver } from '../../kern/bus.js';
import type { Kernel } from '../../kern/kernel.js';
import type { IntrHandler, IntrHandlerSpec } from '../../kern/kern_intr.js';
import { gnttab, type GrantTableClient } from './gnttab.js';
import { addWatch, removeWatch } from './xenstore/xenbus.js';
import { XenstoreError } from './xenstore/xenstore.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** One attached frontend device. */
export interface FrontendInstance {
  /** Its xenstore node was removed (the toolstack detached it): release everything. */
  gone(): Generator<VcpuRequest, void, unknown>;
}

/** A frontend driver: the `device` line that builds it in, and its newbus driver for node `device/<type>/<id>`. */
export interface FrontendDriver {
  readonly device: string;
  driver(node: string): Driver;
}

const instances = new WeakMap<Device, FrontendInstance>();

/** Records the instance attached as `dev`. */
export function setFrontend(dev: Device, instance: FrontendInstance): void {
  instances.set(dev, instance);
}

export function driverOf(dev: Device): FrontendInstance | undefined {
  return instances.get(dev);
}

/** A page of ours granted to the backend: its frame, guest address and grant reference. */
export interface GrantedPage {
  readonly pfn: number;
  readonly addr: number;
  readonly ref: number;
}

export abstract class XenbusFrontend implements FrontendInstance {
  /** Our xenbus state. */
  state: number = XenbusState.Initialising;
  protected backendId = 0;
  protected backend = '';
  protected readonly gt: GrantTableClient;
  private handler: IntrHandler | undefined;
  private handlerPort = -1;
  /** Set while `close` runs: it yields (xenstore writes), and the backend's next state change must not start it again. */
  private closing = false;

  constructor(
    protected readonly k: Kernel,
    readonly dev: Device,
    /** `device/vbd/51712`, `device/vif/0`. */
    readonly nodename: string,
  ) {
    this.gt = gnttab(k);
  }

  get name(): string {
    return this.dev.nameunit;
  }

  /** Reads the backend's location (and, in `readConfig`, the driver's own keys), then follows the backend's state. */
  *attach(): Gen {
    const xs = this.k.xenstore!;
    this.backend = (yield* xs.read(`${this.nodename}/backend`)) ?? '';
    this.backendId = Number((yield* xs.read(`${this.nodename}/backend-id`)) ?? '0');
    if (this.backend === '') throw new Error(`${this.name}: ${this.nodename} names no backend`);
    yield* this.readConfig();
    yield* addWatch(this.k, `${this.backend}/state`, this.name, () => this.otherendChanged());
  }

  /** The driver's own frontend keys, read at attach (netfront: mac, mtu). */
  protected *readConfig(): Gen {}

  /** The node was removed: stop following the backend and let go of everything. */
  *gone(): Gen {
    yield* removeWatch(this.k, `${this.backend}/state`, this.name);
    yield* this.shutdown(XenbusState.Closed, false);
  }

  /** Runs `close` once: not again while it runs, nor once Closed, nor before anything was set up. */
  protected *shutdown(backendState: number, publish = true): Gen {
    if (this.closing || this.state === XenbusState.Closed || this.state === XenbusState.Initialising) return;
    this.closing = true;
    try {
      yield* this.close(backendState, publish);
    } finally {
      this.closing = false;
    }
  }

  protected *setState(state: number): Gen {
    this.state = state;
    try {
      yield* this.k.xenstore!.write(`${this.nodename}/state`, String(state));
    } catch (error) {
      // The toolstack removed our node already (a forced detach): there is no one left to tell.
      if (!(error instanceof XenstoreError)) throw error;
    }
  }

  private *otherendChanged(): Gen {
    let text: string | undefined;
    try {
      text = yield* this.k.xenstore!.read(`${this.backend}/state`);
    } catch (error) {
      // The toolstack removed the backend's directory: its parent is Dom0's, so reading it is EACCES.
      if (!(error instanceof XenstoreError)) throw error;
    }
    const be = text === undefined ? XenbusState.Closed : Number(text);
    switch (be) {
      case XenbusState.InitWait:
      case XenbusState.Initialised:
        if (this.state === XenbusState.Initialising) yield* this.talkToBackend();
        break;
      case XenbusState.Connected:
        if (this.state === XenbusState.Initialising) yield* this.talkToBackend();
        yield* this.backendConnected();
        break;
      case XenbusState.Closing:
      case XenbusState.Closed:
        yield* this.shutdown(be);
        break;
    }
  }

  /** The backend is ready for us: set up the rings, grant them, publish our keys and our next state. */
  protected abstract talkToBackend(): Gen;

  /** The backend is Connected (on each such event: act only on the first one that finds us ready). */
  protected abstract backendConnected(): Gen;

  /** Release the rings, port and grants; `publish`: write Closing and Closed (not when our node is gone). */
  protected abstract close(backendState: number, publish?: boolean): Gen;

  /** A zeroed page of ours granted to the backend. */
  protected grantPage(readonly: boolean): GrantedPage {
    const pfn = this.k.phys.allocate();
    const addr = pfn * PAGE_SIZE;
    this.k.v.memory.write(addr, new Uint8Array(PAGE_SIZE));
    return { pfn, addr, ref: this.gt.grantAccess(this.backendId, pfn, readonly) };
  }

  /** Ends each page's grant and frees it; returns how many the backend still held (kept out of use). */
  protected releasePages(pages: readonly GrantedPage[]): number {
    let kept = 0;
    for (const p of pages) {
      if (this.gt.endAccess(p.ref)) this.k.phys.release(p.pfn);
      else kept++;
    }
    if (kept > 0) this.k.printf(`${this.name}: ${kept} page(s) still in use by the backend are kept`);
    return kept;
  }

  /** Offers the backend an unbound port and handles its events on the boot CPU. */
  protected bindEvents(handler: Omit<IntrHandlerSpec, 'name' | 'port'>): number {
    const k = this.k;
    const port = k.bsp.ops.allocUnbound(this.backendId);
    this.handler = k.bindIntr({ name: this.name, port, ...handler } as IntrHandlerSpec);
    this.handlerPort = port;
    return port;
  }

  protected unbindEvents(): void {
    const k = this.k;
    if (this.handler === undefined) return;
    k.unbindIntr(this.handler);
    this.handler = undefined;
    k.bsp.ops.close(this.handlerPort);
  }
}

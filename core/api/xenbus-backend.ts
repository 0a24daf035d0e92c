/**
 * The backend half of the xenbus protocol, for Dom0 backend plugins (Linux's xenbus_probe_backend): finds
 * the devices the toolstack writes under `/local/domain/0/backend/<kind>/<domid>/<devid>`, walks the
 * handshake with each frontend (xen-facts §2.6) and calls the driver at each step; `Dom0WorkQueue` runs
 * the devices' ring work as coalesced Dom0 tasks. blkback and netback are built on them.
 */
import type { Dom0Tasks } from './dom0.js';
import type { Domain, DomainRegistry, VcpuApi } from './domain.js';
import type { Logger } from './log.js';
import type { XenstoreClient } from './xenstore.js';

/** `XenbusState` values this module uses (the full enum is core/public's `XenbusState`). */
const INITIALISING = 1;
const INIT_WAIT = 2;
const INITIALISED = 3;
const CONNECTED = 4;
const CLOSING = 5;
const CLOSED = 6;

const DOM0 = '/local/domain/0';

/** One backend device. A driver extends it with what it keeps per device. */
export interface XenbusBackendDevice {
  /** The directory kind it was found under (`vbd`, `qdisk`, `vif`). */
  readonly kind: string;
  readonly domid: number;
  readonly devid: number;
  /** `/local/domain/0/backend/<kind>/<domid>/<devid>`. */
  readonly be: string;
  /** The frontend's directory, as the backend's `frontend` key names it. */
  readonly fe: string;
  /** Our state as last written. */
  state: number;
}

/** A driver's steps. Each may throw {@link BackendFatal} (or any error) to fail the device as xenbus_dev_fatal does. */
export interface XenbusBackendDriver<D extends XenbusBackendDevice> {
  /** Backend directory kinds served. */
  readonly kinds: readonly string[];
  /** The device record for a new backend directory (`base` carries the location). */
  create(base: XenbusBackendDevice): D;
  /** Checks the device and publishes its features; the bus then writes InitWait. */
  probe(dev: D): void;
  /** The frontend is Initialised (or Connected): map its rings, bind its event channel. The bus then writes Connected. */
  connect(dev: D): void;
  /** Unmap and unbind (the frontend closing, a ring error, the device going). Idempotent. */
  disconnect(dev: D): void;
  /** True while connected. */
  connected(dev: D): boolean;
  /** The device closed or went: release what `probe` or `connect` took (an image). Optional. */
  release?(dev: D): void;
}

/** A failure a driver reports as the device's error (written under Dom0's `error/` tree). */
export class BackendFatal extends Error {}

export interface XenbusBackendDeps {
  xenstore: XenstoreClient;
  domains: DomainRegistry;
  log: Logger;
}

/** A device's name in logs: `dom3 vbd 51712`. */
export function backendDeviceName(dev: XenbusBackendDevice): string {
  return `dom${dev.domid} ${dev.kind} ${dev.devid}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const decimal = (v: string | undefined): number | undefined => (v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : undefined);

export class XenbusBackendBus<D extends XenbusBackendDevice> {
  private readonly devices = new Map<string, D>();
  private readonly feWatches = new Map<D, () => void>();
  /** Devices a fatal error closed: a removal request closes them at once. */
  private readonly failed = new WeakSet<D>();
  private unwatchers: (() => void)[] = [];
  private readonly onDying = (d: Domain): void => {
    for (const dev of [...this.devices.values()]) if (dev.domid === d.domid) this.forget(dev, 'domain dying');
  };

  constructor(
    private readonly deps: XenbusBackendDeps,
    private readonly driver: XenbusBackendDriver<D>,
  ) {}

  /** Watches the kinds' directories (each fires once at once: devices already there are found). */
  start(): void {
    this.deps.domains.events.on('dying', this.onDying);
    this.unwatchers = this.driver.kinds.map((kind) => this.deps.xenstore.watch(`${DOM0}/backend/${kind}`, (path) => this.onBackendEvent(kind, path)));
  }

  dispose(): void {
    for (const u of this.unwatchers.splice(0)) u();
    this.deps.domains.events.off('dying', this.onDying);
    for (const dev of [...this.devices.values()]) this.forget(dev, 'backend stopping');
  }

  /** Devices known, by domain then device. */
  list(domid?: number): D[] {
    return [...this.devices.values()].filter((d) => domid === undefined || d.domid === domid).sort((a, b) => a.domid - b.domid || a.devid - b.devid);
  }

  /** Writes our state. */
  setState(dev: D, state: number): void {
    dev.state = state;
    try {
      this.deps.xenstore.write(`${dev.be}/state`, String(state));
    } catch (error) {
      this.deps.log.debug(`${backendDeviceName(dev)}: state ${state} not written: ${errorMessage(error)}`);
    }
  }

  /** xenbus_dev_fatal: the message under Dom0's `error/` tree, hotplug-status `error`, the backend Closing. */
  fatal(dev: D, message: string): void {
    this.deps.log.warn(`${backendDeviceName(dev)}: ${message}`);
    this.failed.add(dev);
    this.driver.disconnect(dev);
    const xs = this.deps.xenstore;
    try {
      xs.write(`${DOM0}/error${dev.be.slice(DOM0.length)}/error`, `${dev.kind} ${dev.devid}: ${message}`);
      xs.write(`${dev.be}/hotplug-status`, 'error');
    } catch (error) {
      this.deps.log.debug(`${backendDeviceName(dev)}: cannot report: ${errorMessage(error)}`);
    }
    this.setState(dev, CLOSING);
  }

  // --- discovery -----------------------------------------------------------------------------------

  private onBackendEvent(kind: string, path: string): void {
    const rest = path.slice(`${DOM0}/backend/${kind}/`.length).split('/');
    const domid = decimal(rest[0]);
    const devid = decimal(rest[1]);
    if (path.startsWith(`${DOM0}/backend/${kind}/`) && domid !== undefined && devid !== undefined) {
      this.refresh(kind, domid, devid);
      return;
    }
    // The kind's directory itself (the first firing, or a domain's whole subtree removed): look at everything.
    const xs = this.deps.xenstore;
    for (const dom of xs.directory(`${DOM0}/backend/${kind}`) ?? []) {
      for (const dev of xs.directory(`${DOM0}/backend/${kind}/${dom}`) ?? []) {
        const d = decimal(dom);
        const n = decimal(dev);
        if (d !== undefined && n !== undefined) this.refresh(kind, d, n);
      }
    }
    for (const dev of [...this.devices.values()]) if (dev.kind === kind && xs.read(`${dev.be}/state`) === undefined) this.forget(dev, 'backend directory removed');
  }

  private refresh(kind: string, domid: number, devid: number): void {
    const be = `${DOM0}/backend/${kind}/${domid}/${devid}`;
    const xs = this.deps.xenstore;
    const stateText = xs.read(`${be}/state`);
    const dev = this.devices.get(be);
    if (stateText === undefined) {
      if (dev !== undefined) this.forget(dev, 'backend directory removed');
      return;
    }
    if (dev === undefined) {
      const d = this.deps.domains.get(domid);
      if (d === undefined || d.state === 'dying' || d.state === 'dead') return;
      this.probe(kind, domid, devid, be);
      return;
    }
    // The toolstack asks for the device to go (libxl writes online=0 and state=Closing). Our own writes of
    // Closing come back here too: only a change we did not make, or a failed device, is acted on.
    if (Number(stateText) !== CLOSING || this.online(dev) || dev.state === CLOSED) return;
    if (dev.state === CLOSING) {
      if (this.failed.has(dev)) this.close(dev);
      return;
    }
    dev.state = CLOSING;
    const fe = Number(xs.read(`${dev.fe}/state`) ?? CLOSED);
    // A frontend that never connected will not answer: close at once.
    if (!this.driver.connected(dev) || fe === CLOSED || fe < INITIALISED) this.close(dev);
  }

  private probe(kind: string, domid: number, devid: number, be: string): void {
    const fe = this.deps.xenstore.read(`${be}/frontend`);
    const dev = this.driver.create({ kind, domid, devid, be, fe: fe ?? '', state: INITIALISING });
    this.devices.set(be, dev);
    if (fe === undefined) return this.fatal(dev, 'no frontend path');
    try {
      this.driver.probe(dev);
    } catch (error) {
      return this.fatal(dev, errorMessage(error));
    }
    this.setState(dev, INIT_WAIT);
    this.feWatches.set(dev, this.deps.xenstore.watch(`${fe}/state`, () => this.onFrontendState(dev)));
  }

  private online(dev: D): boolean {
    return this.deps.xenstore.read(`${dev.be}/online`) !== '0';
  }

  private onFrontendState(dev: D): void {
    if (this.devices.get(dev.be) !== dev) return;
    const fe = Number(this.deps.xenstore.read(`${dev.fe}/state`) ?? 0);
    switch (fe) {
      case INITIALISING:
        // A frontend starting again after it closed (a guest's kexec or driver reload).
        if (dev.state === CLOSED && this.online(dev)) this.setState(dev, INIT_WAIT);
        break;
      case INITIALISED:
      case CONNECTED:
        if (dev.state !== INIT_WAIT) break;
        try {
          this.driver.connect(dev);
        } catch (error) {
          return this.fatal(dev, errorMessage(error));
        }
        this.setState(dev, CONNECTED);
        break;
      case CLOSING:
        this.driver.disconnect(dev);
        if (dev.state !== CLOSED) this.setState(dev, CLOSING);
        break;
      case CLOSED:
      case 0:
        if (dev.state !== CLOSED && (this.driver.connected(dev) || dev.state === CLOSING)) this.close(dev);
        break;
    }
  }

  private close(dev: D): void {
    this.driver.disconnect(dev);
    this.driver.release?.(dev);
    this.setState(dev, CLOSED);
    this.deps.log.info(`${backendDeviceName(dev)}: closed`);
  }

  private forget(dev: D, why: string): void {
    if (this.devices.get(dev.be) !== dev) return;
    this.devices.delete(dev.be);
    this.feWatches.get(dev)?.();
    this.feWatches.delete(dev);
    this.driver.disconnect(dev);
    this.driver.release?.(dev);
    this.deps.log.debug(`${backendDeviceName(dev)}: forgotten (${why})`);
  }
}

/**
 * Ring work as Dom0 work: `kick(item)` marks an item for service and queues one task (unless one is
 * queued) that serves every marked item once, in marking order — many events, one wake-up.
 */
export class Dom0WorkQueue<T> {
  private readonly dirty = new Set<T>();
  private queued = false;

  constructor(
    private readonly tasks: Dom0Tasks,
    private readonly name: string,
    private readonly log: Logger,
    /** Cycles of one task's wake-up. */
    private readonly wakeCycles: number,
    private readonly serve: (v: VcpuApi, item: T) => void,
  ) {}

  kick(item: T): void {
    this.dirty.add(item);
    if (this.queued) return;
    this.queued = true;
    this.tasks.submit(this.name, (v) => this.run(v)).onSettled((j) => {
      if (j.error) this.log.error(`${this.name} task failed: ${j.error.message}`);
    });
  }

  /** Stops serving `item` until it is kicked again. */
  drop(item: T): void {
    this.dirty.delete(item);
  }

  private *run(v: VcpuApi): Generator<never, void, unknown> {
    this.queued = false;
    v.compute(this.wakeCycles);
    const work = [...this.dirty];
    this.dirty.clear();
    for (const item of work) this.serve(v, item);
  }
}

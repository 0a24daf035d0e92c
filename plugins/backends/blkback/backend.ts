/**
 * blkback's control plane on the SDK's xenbus backend bus: the vbd (phy) and qdisk backend directories
 * the toolstack writes, each disk image opened when its frontend connects, and the connected vbds'
 * requests served as Dom0 work.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import {
  BackendFatal, Dom0WorkQueue, XenbusBackendBus, backendDeviceName,
  type DiskImage, type DiskImages, type Dom0Tasks, type DomainRegistry, type EventChannels, type GrantTables, type Logger, type VcpuApi,
  type XenbusBackendDevice, type XenbusBackendDriver, type XenstoreClient,
} from '../../../core/api/index.js';
import { VDISK, domId, evtchnPort, grantRef, type EvtchnPort } from '../../../core/public/index.js';
import { RingProtocolError, VbdRing, type VbdStats } from './requests.js';

/** Backend directory kinds served: the kernel blkback's `vbd` and QEMU's `qdisk` (what libxl picks for qcow2). */
export const BLKBACK_KINDS = ['vbd', 'qdisk'] as const;
export type BlkbackKind = (typeof BLKBACK_KINDS)[number];

/** Cycles of one task wake-up, of one request's bookkeeping, and of a flush (an fsync of a page-cache-hot image). */
const WAKE_CYCLES = 2_000;
const REQUEST_CYCLES = 1_500;
const FLUSH_CYCLES = 20_000;

export interface BlkbackDeps {
  xenstore: XenstoreClient;
  evtchn: EventChannels;
  grants: GrantTables;
  domains: DomainRegistry;
  tasks: Dom0Tasks;
  images: DiskImages;
  log: Logger;
  /** What `feature-max-indirect-segments` offers (0: no indirect requests). */
  maxIndirectSegments: number;
  /** Requests served per vbd before the task lets other vbds' work go first. */
  batch: number;
}

/** What `xeno block-list` and the tests see of one vbd. */
export interface VbdInfo {
  readonly kind: BlkbackKind;
  readonly domid: number;
  readonly devid: number;
  readonly state: number;
  readonly path: string | undefined;
  readonly connected: boolean;
  readonly stats: VbdStats | undefined;
}

interface Connection {
  readonly ring: VbdRing;
  readonly localPort: EvtchnPort;
  readonly unlisten: () => void;
}

interface Vbd extends XenbusBackendDevice {
  /** What the backend directory says to serve (set by probe). */
  source: { file: string; format: 'raw' | 'qcow2' | 'auto'; readOnly: boolean; cdrom: boolean } | undefined;
  image: DiskImage | undefined;
  conn: Connection | undefined;
  /** Kept from the last connection, for block-list after a disconnect. */
  stats: VbdStats | undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function decimal(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

export class Blkback implements XenbusBackendDriver<Vbd> {
  readonly kinds = BLKBACK_KINDS;
  private readonly bus: XenbusBackendBus<Vbd>;
  private readonly work: Dom0WorkQueue<Vbd>;

  constructor(private readonly deps: BlkbackDeps) {
    this.bus = new XenbusBackendBus(deps, this);
    this.work = new Dom0WorkQueue(deps.tasks, 'blkback', deps.log, WAKE_CYCLES, (v, vbd) => this.service(v, vbd));
  }

  start(): void {
    this.bus.start();
  }

  dispose(): void {
    this.bus.dispose();
  }

  /** Every vbd served or waiting, by domain then device. */
  list(domid?: number): VbdInfo[] {
    return this.bus.list(domid).map((v) => ({ kind: v.kind as BlkbackKind, domid: v.domid, devid: v.devid, state: v.state, path: v.source?.file, connected: v.conn !== undefined, stats: v.conn?.ring.stats ?? v.stats }));
  }

  /** Images open (leak checks). */
  get openImages(): number {
    return this.bus.list().filter((v) => v.image !== undefined).length;
  }

  // --- the driver's steps --------------------------------------------------------------------------

  create(base: XenbusBackendDevice): Vbd {
    return { ...base, source: undefined, image: undefined, conn: undefined, stats: undefined };
  }

  /**
   * The hotplug script's and blkback_probe's part: check the image is there, publish the transport
   * features. The image is opened when the frontend connects, as Linux blkback publishes a disk's size
   * in connect(): until then an HVM guest's emulated IDE disk may hold the same file (QEMU lets go of it
   * when the guest unplugs its emulated disks).
   */
  probe(vbd: Vbd): void {
    const xs = this.deps.xenstore;
    const params = xs.read(`${vbd.be}/params`) ?? '';
    const readOnly = (xs.read(`${vbd.be}/mode`) ?? 'w') !== 'w';
    // qdisk's params carry the format: `qcow2:/path`; phy's are the path alone.
    const m = vbd.kind === 'qdisk' ? /^(raw|qcow2|aio):(.*)$/.exec(params) : null;
    const format = m !== null && m[1] !== 'aio' ? (m[1] as 'raw' | 'qcow2') : vbd.kind === 'qdisk' ? 'auto' : 'raw';
    const file = m !== null ? m[2]! : params;
    if (!isAbsolute(file)) throw new BackendFatal(`params "${params}" does not name an image file by absolute path`);
    if (!existsSync(file)) throw new BackendFatal(`${file}: no such image file`);
    vbd.source = { file, format, readOnly, cdrom: xs.read(`${vbd.be}/device-type`) === 'cdrom' };
    const discard = !readOnly && xs.read(`${vbd.be}/discard-enable`) !== '0';
    xs.transaction((tx) => {
      tx.write(`${vbd.be}/feature-flush-cache`, '1');
      tx.write(`${vbd.be}/feature-barrier`, '1');
      tx.write(`${vbd.be}/feature-persistent`, '1');
      tx.write(`${vbd.be}/feature-discard`, discard ? '1' : '0');
      if (discard) {
        tx.write(`${vbd.be}/discard-granularity`, '512');
        tx.write(`${vbd.be}/discard-alignment`, '0');
        tx.write(`${vbd.be}/discard-secure`, '0');
      }
      if (this.deps.maxIndirectSegments > 0) tx.write(`${vbd.be}/feature-max-indirect-segments`, String(this.deps.maxIndirectSegments));
      tx.write(`${vbd.be}/hotplug-status`, 'connected');
    });
    this.deps.log.info(`${backendDeviceName(vbd)}: ${format} image ${file}${readOnly ? ' (read-only)' : ''}`);
  }

  /** Maps the ring (through its grant), opens the image and publishes its size, binds the event channel. */
  connect(vbd: Vbd): void {
    const xs = this.deps.xenstore;
    const fe = vbd.fe;
    const ringRef = decimal(xs.read(`${fe}/ring-ref`));
    const port = decimal(xs.read(`${fe}/event-channel`));
    const protocol = xs.read(`${fe}/protocol`) ?? 'x86_64-abi';
    const order = xs.read(`${fe}/ring-page-order`);
    if (order !== undefined && order !== '0') throw new BackendFatal('multi-page rings were not offered');
    if (ringRef === undefined || port === undefined) throw new BackendFatal(`frontend ${fe} gave no ring-ref / event-channel`);
    if (protocol !== 'x86_64-abi') throw new BackendFatal(`unsupported protocol ${protocol}`);
    const image = this.openImage(vbd);
    const domid = domId(vbd.domid);
    const { grants, evtchn } = this.deps;
    const ring = new VbdRing({
      image,
      ringPage: (fn) => grants.access(domId(0), domid, grantRef(ringRef), true, fn),
      grant: (ref, write, fn) => grants.access(domId(0), domid, grantRef(ref), write, fn),
      maxIndirectSegments: this.deps.maxIndirectSegments,
      discard: xs.read(`${vbd.be}/feature-discard`) === '1',
      warn: (message) => this.deps.log.warn(`${backendDeviceName(vbd)}: ${message}`),
    });
    let localPort: EvtchnPort;
    try {
      localPort = evtchn.bindInterdomain(domId(0), domid, evtchnPort(port));
    } catch (error) {
      throw new BackendFatal(`cannot bind event channel ${port}: ${errorMessage(error)}`);
    }
    const unlisten = evtchn.onEvent(domId(0), localPort, () => this.work.kick(vbd));
    vbd.conn = { ring, localPort, unlisten };
    this.deps.log.info(`${backendDeviceName(vbd)}: connected (ring-ref ${ringRef}, event channel ${port})`);
    this.work.kick(vbd);
  }

  /** Opens the image (once) and publishes its size and info bits. */
  private openImage(vbd: Vbd): DiskImage {
    const src = vbd.source!;
    if (vbd.image === undefined) {
      try {
        vbd.image = this.deps.images.open(src.file, { format: src.format, readOnly: src.readOnly });
      } catch (error) {
        throw new BackendFatal(`cannot open ${src.file}: ${errorMessage(error)}`);
      }
    }
    const image = vbd.image;
    const info = (src.readOnly ? VDISK.readonly : 0) | (src.cdrom ? VDISK.cdrom | VDISK.removable : 0);
    this.deps.xenstore.transaction((tx) => {
      tx.write(`${vbd.be}/sectors`, String(Math.floor(image.size / 512)));
      tx.write(`${vbd.be}/sector-size`, '512');
      tx.write(`${vbd.be}/physical-sector-size`, '512');
      tx.write(`${vbd.be}/info`, String(info));
    });
    return image;
  }

  disconnect(vbd: Vbd): void {
    const c = vbd.conn;
    if (c === undefined) return;
    vbd.conn = undefined;
    vbd.stats = c.ring.stats;
    this.work.drop(vbd);
    c.unlisten();
    try {
      this.deps.evtchn.close(domId(0), c.localPort);
    } catch {
      // The guest's death closed it already.
    }
  }

  connected(vbd: Vbd): boolean {
    return vbd.conn !== undefined;
  }

  release(vbd: Vbd): void {
    try {
      vbd.image?.close();
    } catch (error) {
      this.deps.log.warn(`${backendDeviceName(vbd)}: closing the image: ${errorMessage(error)}`);
    }
    vbd.image = undefined;
  }

  // --- the data path, as Dom0 work ----------------------------------------------------------------

  private service(v: VcpuApi, vbd: Vbd): void {
    const c = vbd.conn;
    if (c === undefined) return;
    try {
      const r = c.ring.pass(this.deps.batch);
      v.compute(r.requests * REQUEST_CYCLES + r.flushes * FLUSH_CYCLES);
      if (r.bytes > 0) v.charge('copyPerByte', r.bytes);
      if (r.notify) {
        v.charge('hypercall');
        this.deps.evtchn.notify(domId(0), c.localPort);
      }
      if (r.more) this.work.kick(vbd);
    } catch (error) {
      if (!(error instanceof RingProtocolError)) this.deps.log.error(`${backendDeviceName(vbd)}: ${errorMessage(error)}`);
      this.bus.fatal(vbd, `disconnected: ${errorMessage(error)}`);
    }
  }
}

/**
 * blkback's control plane: finds the vbd (phy) and qdisk backend directories the toolstack writes in
 * Dom0's xenstore, opens each disk image, and walks the xenbus handshake with the frontend (InitWait →
 * Connected → Closing → Closed, xen-facts §2.6); a connected vbd's requests are served as Dom0 tasks.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import {
  type DiskImage, type DiskImages, type Dom0Tasks, type Domain, type DomainRegistry, type EventChannels, type GrantTables, type Logger, type VcpuApi,
  type XenstoreClient,
} from '../../../core/api/index.js';
import { VDISK, XenbusState, domId, evtchnPort, grantRef, type EvtchnPort } from '../../../core/public/index.js';
import { RingProtocolError, VbdRing, type VbdStats } from './requests.js';

/** Backend directory kinds served: the kernel blkback's `vbd` and QEMU's `qdisk` (what libxl picks for qcow2). */
export const BLKBACK_KINDS = ['vbd', 'qdisk'] as const;
export type BlkbackKind = (typeof BLKBACK_KINDS)[number];

const BACKEND = '/local/domain/0/backend';
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

interface Vbd {
  readonly kind: BlkbackKind;
  readonly domid: number;
  readonly devid: number;
  readonly be: string;
  fe: string | undefined;
  state: number;
  /** What the backend directory says to serve (set by probe). */
  source: { file: string; format: 'raw' | 'qcow2' | 'auto'; readOnly: boolean; cdrom: boolean } | undefined;
  image: DiskImage | undefined;
  conn: Connection | undefined;
  unwatchFe: (() => void) | undefined;
  /** Kept from the last connection, for block-list after a disconnect. */
  stats: VbdStats | undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function decimal(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

export class Blkback {
  private readonly vbds = new Map<string, Vbd>();
  private readonly dirty = new Set<Vbd>();
  private taskQueued = false;
  private unwatchers: (() => void)[] = [];
  private readonly onDying = (d: Domain): void => {
    for (const vbd of [...this.vbds.values()]) if (vbd.domid === d.domid) this.forget(vbd, 'domain dying');
  };

  constructor(private readonly deps: BlkbackDeps) {}

  start(): void {
    this.deps.domains.events.on('dying', this.onDying);
    this.unwatchers = BLKBACK_KINDS.map((kind) => this.deps.xenstore.watch(`${BACKEND}/${kind}`, (path) => this.onBackendEvent(kind, path)));
  }

  dispose(): void {
    for (const u of this.unwatchers.splice(0)) u();
    this.deps.domains.events.off('dying', this.onDying);
    for (const vbd of [...this.vbds.values()]) this.forget(vbd, 'blkback stopping');
  }

  /** Every vbd served or waiting, by domain then device. */
  list(domid?: number): VbdInfo[] {
    return [...this.vbds.values()]
      .filter((v) => domid === undefined || v.domid === domid)
      .sort((a, b) => a.domid - b.domid || a.devid - b.devid)
      .map((v) => ({ kind: v.kind, domid: v.domid, devid: v.devid, state: v.state, path: v.source?.file, connected: v.conn !== undefined, stats: v.conn?.ring.stats ?? v.stats }));
  }

  /** Images open (leak checks). */
  get openImages(): number {
    return [...this.vbds.values()].filter((v) => v.image !== undefined).length;
  }

  // --- discovery ---------------------------------------------------------------------------------

  private onBackendEvent(kind: BlkbackKind, path: string): void {
    const m = new RegExp(`^${BACKEND}/${kind}/(\\d+)/(\\d+)(?:/|$)`).exec(path);
    if (m !== null) {
      this.refresh(kind, Number(m[1]), Number(m[2]));
      return;
    }
    // The kind's directory itself (the first firing, or a whole domain's subtree removed): look at everything.
    for (const dom of this.deps.xenstore.directory(`${BACKEND}/${kind}`) ?? []) {
      for (const dev of this.deps.xenstore.directory(`${BACKEND}/${kind}/${dom}`) ?? []) {
        const domid = decimal(dom);
        const devid = decimal(dev);
        if (domid !== undefined && devid !== undefined) this.refresh(kind, domid, devid);
      }
    }
    for (const vbd of [...this.vbds.values()]) if (vbd.kind === kind && this.deps.xenstore.read(`${vbd.be}/state`) === undefined) this.forget(vbd, 'backend directory removed');
  }

  private refresh(kind: BlkbackKind, domid: number, devid: number): void {
    const key = `${kind}/${domid}/${devid}`;
    const be = `${BACKEND}/${key}`;
    const xs = this.deps.xenstore;
    const stateText = xs.read(`${be}/state`);
    let vbd = this.vbds.get(key);
    if (stateText === undefined) {
      if (vbd !== undefined) this.forget(vbd, 'backend directory removed');
      return;
    }
    if (vbd === undefined) {
      const d = this.deps.domains.get(domid);
      if (d === undefined || d.state === 'dying' || d.state === 'dead') return;
      vbd = { kind, domid, devid, be, fe: undefined, state: XenbusState.Initialising, source: undefined, image: undefined, conn: undefined, unwatchFe: undefined, stats: undefined };
      this.vbds.set(key, vbd);
      this.probe(vbd);
      return;
    }
    // The toolstack asks for the device to go (libxl writes online=0 and state=Closing).
    const state = Number(stateText);
    if (state === XenbusState.Closing && vbd.state !== XenbusState.Closing && vbd.state !== XenbusState.Closed) {
      vbd.state = XenbusState.Closing;
      const feState = vbd.fe !== undefined ? Number(xs.read(`${vbd.fe}/state`) ?? XenbusState.Closed) : XenbusState.Closed;
      // A frontend that never connected will not answer: close at once.
      if (vbd.conn === undefined || feState === XenbusState.Closed || feState < XenbusState.Initialised) this.close(vbd);
    }
  }

  /**
   * New backend directory (the hotplug script's and netback_probe's part): check the image is there,
   * publish the transport features, go to InitWait. The image is opened when the frontend connects, as
   * Linux blkback publishes a disk's size in connect(): until then an HVM guest's emulated IDE disk may
   * hold the same file (QEMU lets go of it when the guest unplugs its emulated disks).
   */
  private probe(vbd: Vbd): void {
    const xs = this.deps.xenstore;
    const fe = xs.read(`${vbd.be}/frontend`);
    const params = xs.read(`${vbd.be}/params`) ?? '';
    const readOnly = (xs.read(`${vbd.be}/mode`) ?? 'w') !== 'w';
    // qdisk's params carry the format: `qcow2:/path`; phy's are the path alone.
    const m = vbd.kind === 'qdisk' ? /^(raw|qcow2|aio):(.*)$/.exec(params) : null;
    const format = m !== null && m[1] !== 'aio' ? (m[1] as 'raw' | 'qcow2') : vbd.kind === 'qdisk' ? 'auto' : 'raw';
    const file = m !== null ? m[2]! : params;
    if (fe === undefined) return this.fatal(vbd, 'no frontend path');
    if (!isAbsolute(file)) return this.fatal(vbd, `params "${params}" does not name an image file by absolute path`);
    if (!existsSync(file)) return this.fatal(vbd, `${file}: no such image file`);
    vbd.fe = fe;
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
      tx.write(`${vbd.be}/state`, String(XenbusState.InitWait));
    });
    vbd.state = XenbusState.InitWait;
    this.deps.log.info(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: ${format} image ${file}${readOnly ? ' (read-only)' : ''}`);
    vbd.unwatchFe = xs.watch(`${fe}/state`, () => this.onFrontendState(vbd));
  }

  /** Opens the image (once) and publishes its size and info bits; false (after a fatal error) when it cannot be opened. */
  private openImage(vbd: Vbd): boolean {
    const src = vbd.source!;
    if (vbd.image === undefined) {
      try {
        vbd.image = this.deps.images.open(src.file, { format: src.format, readOnly: src.readOnly });
      } catch (error) {
        this.fatal(vbd, `cannot open ${src.file}: ${errorMessage(error)}`);
        return false;
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
    return true;
  }

  private closeImage(vbd: Vbd): void {
    try {
      vbd.image?.close();
    } catch (error) {
      this.deps.log.warn(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: closing the image: ${errorMessage(error)}`);
    }
    vbd.image = undefined;
  }

  /** xenbus_dev_fatal: the error under Dom0's `error/` tree, the backend Closing; the guest carries on without the disk. */
  private fatal(vbd: Vbd, message: string): void {
    const text = `${vbd.kind} ${vbd.devid}: ${message}`;
    this.deps.log.warn(`dom${vbd.domid} ${text}`);
    const xs = this.deps.xenstore;
    try {
      xs.write(`/local/domain/0/error${vbd.be.slice('/local/domain/0'.length)}/error`, text);
      xs.write(`${vbd.be}/hotplug-status`, 'error');
      xs.write(`${vbd.be}/state`, String(XenbusState.Closing));
    } catch (error) {
      this.deps.log.debug(`dom${vbd.domid}: cannot report: ${errorMessage(error)}`);
    }
    vbd.state = XenbusState.Closing;
  }

  private setState(vbd: Vbd, state: number): void {
    vbd.state = state;
    try {
      this.deps.xenstore.write(`${vbd.be}/state`, String(state));
    } catch (error) {
      this.deps.log.debug(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: state ${state} not written: ${errorMessage(error)}`);
    }
  }

  private onFrontendState(vbd: Vbd): void {
    if (this.vbds.get(`${vbd.kind}/${vbd.domid}/${vbd.devid}`) !== vbd || vbd.fe === undefined) return;
    const fe = Number(this.deps.xenstore.read(`${vbd.fe}/state`) ?? XenbusState.Unknown);
    switch (fe) {
      case XenbusState.Initialising:
        // A frontend starting again after it closed (a guest's kexec or driver reload).
        if (vbd.state === XenbusState.Closed && vbd.source !== undefined && this.online(vbd)) this.setState(vbd, XenbusState.InitWait);
        break;
      case XenbusState.Initialised:
      case XenbusState.Connected:
        if (vbd.state === XenbusState.InitWait) this.connect(vbd);
        break;
      case XenbusState.Closing:
        this.disconnect(vbd);
        if (vbd.state !== XenbusState.Closed) this.setState(vbd, XenbusState.Closing);
        break;
      case XenbusState.Closed:
      case XenbusState.Unknown:
        if (vbd.state !== XenbusState.Closed && (vbd.conn !== undefined || vbd.state === XenbusState.Closing)) this.close(vbd);
        break;
    }
  }

  private online(vbd: Vbd): boolean {
    return this.deps.xenstore.read(`${vbd.be}/online`) !== '0';
  }

  /** Maps the ring (through its grant), binds the event channel, goes Connected. */
  private connect(vbd: Vbd): void {
    const xs = this.deps.xenstore;
    const fe = vbd.fe!;
    const ringRef = decimal(xs.read(`${fe}/ring-ref`));
    const port = decimal(xs.read(`${fe}/event-channel`));
    const protocol = xs.read(`${fe}/protocol`) ?? 'x86_64-abi';
    if (xs.read(`${fe}/ring-page-order`) !== undefined && xs.read(`${fe}/ring-page-order`) !== '0') return this.fatal(vbd, 'multi-page rings were not offered');
    if (ringRef === undefined || port === undefined) return this.fatal(vbd, `frontend ${fe} gave no ring-ref / event-channel`);
    if (protocol !== 'x86_64-abi') return this.fatal(vbd, `unsupported protocol ${protocol}`);
    if (!this.openImage(vbd)) return;
    const domid = domId(vbd.domid);
    const { grants, evtchn } = this.deps;
    const ring = new VbdRing({
      image: vbd.image!,
      ringPage: (fn) => grants.access(domId(0), domid, grantRef(ringRef), true, fn),
      grant: (ref, write, fn) => grants.access(domId(0), domid, grantRef(ref), write, fn),
      maxIndirectSegments: this.deps.maxIndirectSegments,
      discard: xs.read(`${vbd.be}/feature-discard`) === '1',
      warn: (message) => this.deps.log.warn(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: ${message}`),
    });
    let localPort: EvtchnPort;
    try {
      localPort = evtchn.bindInterdomain(domId(0), domid, evtchnPort(port));
    } catch (error) {
      return this.fatal(vbd, `cannot bind event channel ${port}: ${errorMessage(error)}`);
    }
    const unlisten = evtchn.onEvent(domId(0), localPort, () => this.kick(vbd));
    vbd.conn = { ring, localPort, unlisten };
    this.setState(vbd, XenbusState.Connected);
    this.deps.log.info(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: connected (ring-ref ${ringRef}, event channel ${port})`);
    this.kick(vbd);
  }

  private disconnect(vbd: Vbd): void {
    const c = vbd.conn;
    if (c === undefined) return;
    vbd.conn = undefined;
    vbd.stats = c.ring.stats;
    this.dirty.delete(vbd);
    c.unlisten();
    try {
      this.deps.evtchn.close(domId(0), c.localPort);
    } catch {
      // The guest's death closed it already.
    }
  }

  private close(vbd: Vbd): void {
    this.disconnect(vbd);
    this.closeImage(vbd);
    this.setState(vbd, XenbusState.Closed);
    this.deps.log.info(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: closed`);
  }

  private forget(vbd: Vbd, why: string): void {
    const key = `${vbd.kind}/${vbd.domid}/${vbd.devid}`;
    if (this.vbds.get(key) !== vbd) return;
    this.vbds.delete(key);
    vbd.unwatchFe?.();
    this.disconnect(vbd);
    this.closeImage(vbd);
    this.deps.log.debug(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: forgotten (${why})`);
  }

  // --- the data path, as Dom0 work ----------------------------------------------------------------

  private kick(vbd: Vbd): void {
    this.dirty.add(vbd);
    if (this.taskQueued) return;
    this.taskQueued = true;
    const job = this.deps.tasks.submit('blkback', (v) => this.serviceTask(v));
    job.onSettled((j) => {
      if (j.error) this.deps.log.error(`blkback task failed: ${j.error.message}`);
    });
  }

  private *serviceTask(v: VcpuApi): Generator<never, void, unknown> {
    this.taskQueued = false;
    v.compute(WAKE_CYCLES);
    const work = [...this.dirty];
    this.dirty.clear();
    for (const vbd of work) {
      const c = vbd.conn;
      if (c === undefined) continue;
      try {
        const r = c.ring.pass(this.deps.batch);
        v.compute(r.requests * REQUEST_CYCLES + r.flushes * FLUSH_CYCLES);
        if (r.bytes > 0) v.charge('copyPerByte', r.bytes);
        if (r.notify) {
          v.charge('hypercall');
          this.deps.evtchn.notify(domId(0), c.localPort);
        }
        if (r.more) this.kick(vbd);
      } catch (error) {
        if (!(error instanceof RingProtocolError)) {
          this.deps.log.error(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: ${errorMessage(error)}`);
        }
        this.deps.log.warn(`dom${vbd.domid} ${vbd.kind} ${vbd.devid}: disconnected: ${errorMessage(error)}`);
        this.disconnect(vbd);
        this.setState(vbd, XenbusState.Closing);
      }
    }
  }

  /** The Dom0 port bound to a connected vbd's event channel (tests). */
  localPort(domid: number, devid: number, kind: BlkbackKind = 'vbd'): EvtchnPort | undefined {
    return this.vbds.get(`${kind}/${domid}/${devid}`)?.conn?.localPort;
  }
}

/**
 * netback's control plane: finds the vif backend directories the toolstack writes, plugs each vif
 * into its bridge (`vif<domid>.<handle>`, as vif-bridge does), and walks the xenbus handshake with
 * netfront; a connected vif's rings are served as Dom0 tasks.
 */
import {
  type BridgePort, type Bridges, type Dom0Tasks, type Domain, type DomainRegistry, type EventChannels, type GrantTables, type Logger, type NetPort, type VcpuApi,
  type XenstoreClient,
} from '../../../core/api/index.js';
import { XenbusState, domId, evtchnPort, grantRef, type EvtchnPort } from '../../../core/public/index.js';
import { NetRingError, VifRings, type VifStats } from './rings.js';

const BACKEND = '/local/domain/0/backend/vif';
const WAKE_CYCLES = 2_000;
const PACKET_CYCLES = 1_000;

export interface NetbackDeps {
  xenstore: XenstoreClient;
  evtchn: EventChannels;
  grants: GrantTables;
  domains: DomainRegistry;
  tasks: Dom0Tasks;
  bridges: Bridges;
  log: Logger;
  /** Frames waiting for the guest's rx buffers before more are dropped. */
  rxQueue: number;
  /** Packets taken from one vif's tx ring before others get their turn. */
  batch: number;
}

/** What `xeno network-list` and the tests see of one vif. */
export interface VifInfo {
  readonly domid: number;
  readonly handle: number;
  readonly name: string;
  readonly state: number;
  readonly mac: string | undefined;
  readonly bridge: string | undefined;
  readonly connected: boolean;
  readonly stats: VifStats | undefined;
}

interface Vif {
  readonly domid: number;
  readonly handle: number;
  readonly be: string;
  readonly name: string;
  fe: string | undefined;
  mac: string | undefined;
  bridgeName: string | undefined;
  mtu: number;
  state: number;
  conn: { rings: VifRings; localPort: EvtchnPort; unlisten: () => void; port: BridgePort } | undefined;
  unwatchFe: (() => void) | undefined;
  /** Frames from the bridge waiting for rx buffers. */
  readonly queue: Uint8Array[];
  stats: VifStats | undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function decimal(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

export class Netback {
  private readonly vifs = new Map<string, Vif>();
  private readonly dirty = new Set<Vif>();
  private taskQueued = false;
  private unwatch: (() => void) | undefined;
  private readonly onDying = (d: Domain): void => {
    for (const vif of [...this.vifs.values()]) if (vif.domid === d.domid) this.forget(vif, 'domain dying');
  };

  constructor(private readonly deps: NetbackDeps) {}

  start(): void {
    this.deps.domains.events.on('dying', this.onDying);
    this.unwatch = this.deps.xenstore.watch(BACKEND, (path) => this.onBackendEvent(path));
  }

  dispose(): void {
    this.unwatch?.();
    this.deps.domains.events.off('dying', this.onDying);
    for (const vif of [...this.vifs.values()]) this.forget(vif, 'netback stopping');
  }

  list(domid?: number): VifInfo[] {
    return [...this.vifs.values()]
      .filter((v) => domid === undefined || v.domid === domid)
      .sort((a, b) => a.domid - b.domid || a.handle - b.handle)
      .map((v) => ({ domid: v.domid, handle: v.handle, name: v.name, state: v.state, mac: v.mac, bridge: v.bridgeName, connected: v.conn !== undefined, stats: v.conn?.rings.stats ?? v.stats }));
  }

  private onBackendEvent(path: string): void {
    const m = /^\/local\/domain\/0\/backend\/vif\/(\d+)\/(\d+)(?:\/|$)/.exec(path);
    if (m !== null) return this.refresh(Number(m[1]), Number(m[2]));
    const xs = this.deps.xenstore;
    for (const dom of xs.directory(BACKEND) ?? []) {
      for (const dev of xs.directory(`${BACKEND}/${dom}`) ?? []) {
        const domid = decimal(dom);
        const handle = decimal(dev);
        if (domid !== undefined && handle !== undefined) this.refresh(domid, handle);
      }
    }
    for (const vif of [...this.vifs.values()]) if (xs.read(`${vif.be}/state`) === undefined) this.forget(vif, 'backend directory removed');
  }

  private refresh(domid: number, handle: number): void {
    const key = `${domid}/${handle}`;
    const be = `${BACKEND}/${key}`;
    const xs = this.deps.xenstore;
    const stateText = xs.read(`${be}/state`);
    let vif = this.vifs.get(key);
    if (stateText === undefined) {
      if (vif !== undefined) this.forget(vif, 'backend directory removed');
      return;
    }
    if (vif === undefined) {
      const d = this.deps.domains.get(domid);
      if (d === undefined || d.state === 'dying' || d.state === 'dead') return;
      vif = { domid, handle, be, name: `vif${domid}.${handle}`, fe: undefined, mac: undefined, bridgeName: undefined, mtu: 1500, state: XenbusState.Initialising, conn: undefined, unwatchFe: undefined, queue: [], stats: undefined };
      this.vifs.set(key, vif);
      this.probe(vif);
      return;
    }
    const state = Number(stateText);
    if (state === XenbusState.Closing && vif.state !== XenbusState.Closing && vif.state !== XenbusState.Closed) {
      vif.state = XenbusState.Closing;
      const fe = vif.fe !== undefined ? Number(xs.read(`${vif.fe}/state`) ?? XenbusState.Closed) : XenbusState.Closed;
      if (vif.conn === undefined || fe === XenbusState.Closed || fe < XenbusState.Initialised) this.close(vif);
    }
  }

  /** netback_probe + the hotplug script's work: features published, the bridge checked, InitWait. */
  private probe(vif: Vif): void {
    const xs = this.deps.xenstore;
    vif.fe = xs.read(`${vif.be}/frontend`);
    vif.mac = xs.read(`${vif.be}/mac`);
    vif.bridgeName = xs.read(`${vif.be}/bridge`) ?? 'xenbr0';
    const mtu = decimal(xs.read(`${vif.be}/mtu`));
    if (mtu !== undefined && mtu >= 68 && mtu <= 65535) vif.mtu = mtu;
    if (vif.fe === undefined) return this.fatal(vif, 'no frontend path');
    try {
      this.deps.bridges.get(vif.bridgeName);
    } catch (error) {
      return this.fatal(vif, `vif-bridge: ${errorMessage(error)}`);
    }
    xs.transaction((tx) => {
      tx.write(`${vif.be}/feature-rx-copy`, '1');
      tx.write(`${vif.be}/feature-rx-flip`, '0');
      tx.write(`${vif.be}/feature-sg`, '1');
      tx.write(`${vif.be}/feature-gso-tcpv4`, '0');
      tx.write(`${vif.be}/feature-gso-tcpv6`, '0');
      tx.write(`${vif.be}/feature-split-event-channels`, '0');
      tx.write(`${vif.be}/hotplug-status`, 'connected');
      tx.write(`${vif.be}/state`, String(XenbusState.InitWait));
    });
    vif.state = XenbusState.InitWait;
    this.deps.log.info(`${vif.name}: on bridge ${vif.bridgeName}, mac ${vif.mac ?? '?'}`);
    vif.unwatchFe = xs.watch(`${vif.fe}/state`, () => this.onFrontendState(vif));
  }

  private fatal(vif: Vif, message: string): void {
    this.deps.log.warn(`dom${vif.domid} ${vif.name}: ${message}`);
    const xs = this.deps.xenstore;
    try {
      xs.write(`/local/domain/0/error${vif.be.slice('/local/domain/0'.length)}/error`, message);
      xs.write(`${vif.be}/hotplug-status`, 'error');
      xs.write(`${vif.be}/state`, String(XenbusState.Closing));
    } catch (error) {
      this.deps.log.debug(`dom${vif.domid}: cannot report: ${errorMessage(error)}`);
    }
    vif.state = XenbusState.Closing;
  }

  private setState(vif: Vif, state: number): void {
    vif.state = state;
    try {
      this.deps.xenstore.write(`${vif.be}/state`, String(state));
    } catch (error) {
      this.deps.log.debug(`${vif.name}: state ${state} not written: ${errorMessage(error)}`);
    }
  }

  private onFrontendState(vif: Vif): void {
    if (this.vifs.get(`${vif.domid}/${vif.handle}`) !== vif || vif.fe === undefined) return;
    const fe = Number(this.deps.xenstore.read(`${vif.fe}/state`) ?? XenbusState.Unknown);
    switch (fe) {
      case XenbusState.Initialising:
        if (vif.state === XenbusState.Closed && this.deps.xenstore.read(`${vif.be}/online`) !== '0') this.setState(vif, XenbusState.InitWait);
        break;
      case XenbusState.Initialised:
      case XenbusState.Connected:
        if (vif.state === XenbusState.InitWait) this.connect(vif);
        break;
      case XenbusState.Closing:
        this.disconnect(vif);
        if (vif.state !== XenbusState.Closed) this.setState(vif, XenbusState.Closing);
        break;
      case XenbusState.Closed:
      case XenbusState.Unknown:
        if (vif.state !== XenbusState.Closed && (vif.conn !== undefined || vif.state === XenbusState.Closing)) this.close(vif);
        break;
    }
  }

  private connect(vif: Vif): void {
    const xs = this.deps.xenstore;
    const fe = vif.fe!;
    const tx = decimal(xs.read(`${fe}/tx-ring-ref`));
    const rx = decimal(xs.read(`${fe}/rx-ring-ref`));
    const port = decimal(xs.read(`${fe}/event-channel`));
    if (tx === undefined || rx === undefined || port === undefined) return this.fatal(vif, `frontend ${fe} gave no tx-ring-ref / rx-ring-ref / event-channel (split event channels were not offered)`);
    if (xs.read(`${fe}/request-rx-copy`) !== '1') return this.fatal(vif, 'the frontend does not request rx-copy (rx-flip is not supported)');
    const domid = domId(vif.domid);
    const { grants, evtchn } = this.deps;
    const ringView = (ref: number) => (fn: (view: DataView) => void) => grants.access(domId(0), domid, grantRef(ref), true, (page) => fn(new DataView(page.buffer, page.byteOffset, page.byteLength)));
    const rings = new VifRings({
      txRing: ringView(tx),
      rxRing: ringView(rx),
      grant: (ref, write, fn) => grants.access(domId(0), domid, grantRef(ref), write, fn),
      maxFrame: vif.mtu + 14,
      warn: (message) => this.deps.log.warn(`dom${vif.domid} ${vif.name}: ${message}`),
    });
    let localPort: EvtchnPort;
    try {
      localPort = evtchn.bindInterdomain(domId(0), domid, evtchnPort(port));
    } catch (error) {
      return this.fatal(vif, `cannot bind event channel ${port}: ${errorMessage(error)}`);
    }
    const self = this;
    const netPort: NetPort = {
      name: vif.name,
      deliver(frame) {
        if (vif.queue.length >= self.deps.rxQueue) {
          if (vif.conn !== undefined) vif.conn.rings.stats.rxDropped++;
          return false;
        }
        vif.queue.push(frame.slice());
        self.kick(vif);
        return true;
      },
    };
    let bridgePort: BridgePort;
    try {
      bridgePort = this.deps.bridges.get(vif.bridgeName!).attach(netPort);
    } catch (error) {
      evtchn.close(domId(0), localPort);
      return this.fatal(vif, `vif-bridge: ${errorMessage(error)}`);
    }
    const unlisten = evtchn.onEvent(domId(0), localPort, () => this.kick(vif));
    vif.conn = { rings, localPort, unlisten, port: bridgePort };
    this.setState(vif, XenbusState.Connected);
    this.deps.log.info(`${vif.name}: connected (tx-ring-ref ${tx}, rx-ring-ref ${rx}, event channel ${port})`);
    this.kick(vif);
  }

  private disconnect(vif: Vif): void {
    const c = vif.conn;
    if (c === undefined) return;
    vif.conn = undefined;
    vif.stats = c.rings.stats;
    vif.queue.length = 0;
    this.dirty.delete(vif);
    c.unlisten();
    c.port.detach();
    try {
      this.deps.evtchn.close(domId(0), c.localPort);
    } catch {
      // The guest's death closed it already.
    }
  }

  private close(vif: Vif): void {
    this.disconnect(vif);
    this.setState(vif, XenbusState.Closed);
    this.deps.log.info(`${vif.name}: closed`);
  }

  private forget(vif: Vif, why: string): void {
    const key = `${vif.domid}/${vif.handle}`;
    if (this.vifs.get(key) !== vif) return;
    this.vifs.delete(key);
    vif.unwatchFe?.();
    this.disconnect(vif);
    this.deps.log.debug(`${vif.name}: forgotten (${why})`);
  }

  private kick(vif: Vif): void {
    this.dirty.add(vif);
    if (this.taskQueued) return;
    this.taskQueued = true;
    const job = this.deps.tasks.submit('netback', (v) => this.serviceTask(v));
    job.onSettled((j) => {
      if (j.error) this.deps.log.error(`netback task failed: ${j.error.message}`);
    });
  }

  private *serviceTask(v: VcpuApi): Generator<never, void, unknown> {
    this.taskQueued = false;
    v.compute(WAKE_CYCLES);
    const work = [...this.dirty];
    this.dirty.clear();
    for (const vif of work) {
      const c = vif.conn;
      if (c === undefined) continue;
      try {
        // Guest → bridge. The bridge may deliver to other vifs (kicking them) as we go.
        const t = c.rings.transmit(this.deps.batch, (frame) => c.port.send(frame));
        // Bridge → guest.
        const r = vif.queue.length > 0 ? c.rings.receive(vif.queue) : { frames: 0, bytes: 0, notify: false };
        v.compute((t.packets + r.frames) * PACKET_CYCLES);
        if (t.bytes + r.bytes > 0) v.charge('copyPerByte', t.bytes + r.bytes);
        if (t.notify || r.notify) {
          v.charge('hypercall');
          this.deps.evtchn.notify(domId(0), c.localPort);
        }
        if (t.more) this.kick(vif);
      } catch (error) {
        if (!(error instanceof NetRingError)) this.deps.log.error(`${vif.name}: ${errorMessage(error)}`);
        this.deps.log.warn(`dom${vif.domid} ${vif.name}: disconnected: ${errorMessage(error)}`);
        this.disconnect(vif);
        this.setState(vif, XenbusState.Closing);
      }
    }
  }
}

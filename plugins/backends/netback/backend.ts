/**
 * netback's control plane on the SDK's xenbus backend bus: each vif plugged into its bridge as
 * `vif<domid>.<handle>` (as vif-bridge does) once netfront connects; a connected vif's rings are served
 * as Dom0 work.
 */
import {
  BackendFatal, Dom0WorkQueue, XenbusBackendBus, backendDeviceName,
  type BridgePort, type Bridges, type Dom0Tasks, type DomainRegistry, type EventChannels, type GrantTables, type Logger, type NetPort, type VcpuApi,
  type XenbusBackendDevice, type XenbusBackendDriver, type XenstoreClient,
} from '../../../core/api/index.js';
import { domId, evtchnPort, grantRef, type EvtchnPort } from '../../../core/public/index.js';
import { NetRingError, VifRings, type VifStats } from './rings.js';

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

interface Vif extends XenbusBackendDevice {
  /** `vif<domid>.<handle>`. */
  readonly name: string;
  mac: string | undefined;
  bridgeName: string;
  mtu: number;
  conn: { rings: VifRings; localPort: EvtchnPort; unlisten: () => void; port: BridgePort } | undefined;
  /** Frames from the bridge waiting for rx buffers. */
  readonly queue: Uint8Array[];
  /** Bytes the bridge copied straight into rx buffers since the last service (charged there). */
  directBytes: number;
  stats: VifStats | undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function decimal(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

export class Netback implements XenbusBackendDriver<Vif> {
  readonly kinds = ['vif'] as const;
  private readonly bus: XenbusBackendBus<Vif>;
  private readonly work: Dom0WorkQueue<Vif>;

  constructor(private readonly deps: NetbackDeps) {
    this.bus = new XenbusBackendBus(deps, this);
    this.work = new Dom0WorkQueue(deps.tasks, 'netback', deps.log, WAKE_CYCLES, (v, vif) => this.service(v, vif));
  }

  start(): void {
    this.bus.start();
  }

  dispose(): void {
    this.bus.dispose();
  }

  list(domid?: number): VifInfo[] {
    return this.bus.list(domid).map((v) => ({ domid: v.domid, handle: v.devid, name: v.name, state: v.state, mac: v.mac, bridge: v.bridgeName, connected: v.conn !== undefined, stats: v.conn?.rings.stats ?? v.stats }));
  }

  // --- the driver's steps --------------------------------------------------------------------------

  create(base: XenbusBackendDevice): Vif {
    return { ...base, name: `vif${base.domid}.${base.devid}`, mac: undefined, bridgeName: 'xenbr0', mtu: 1500, conn: undefined, queue: [], directBytes: 0, stats: undefined };
  }

  /** netback_probe and the hotplug script's checks: the bridge exists; features published. */
  probe(vif: Vif): void {
    const xs = this.deps.xenstore;
    vif.mac = xs.read(`${vif.be}/mac`);
    vif.bridgeName = xs.read(`${vif.be}/bridge`) ?? 'xenbr0';
    const mtu = decimal(xs.read(`${vif.be}/mtu`));
    if (mtu !== undefined && mtu >= 68 && mtu <= 65535) vif.mtu = mtu;
    try {
      this.deps.bridges.get(vif.bridgeName);
    } catch (error) {
      throw new BackendFatal(`vif-bridge: ${errorMessage(error)}`);
    }
    xs.transaction((tx) => {
      tx.write(`${vif.be}/feature-rx-copy`, '1');
      tx.write(`${vif.be}/feature-rx-flip`, '0');
      tx.write(`${vif.be}/feature-sg`, '1');
      tx.write(`${vif.be}/feature-gso-tcpv4`, '0');
      tx.write(`${vif.be}/feature-gso-tcpv6`, '0');
      tx.write(`${vif.be}/feature-split-event-channels`, '0');
      tx.write(`${vif.be}/hotplug-status`, 'connected');
    });
    this.deps.log.info(`${vif.name}: on bridge ${vif.bridgeName}, mac ${vif.mac ?? '?'}`);
  }

  /** Maps both rings, binds the event channel, plugs the vif into its bridge. */
  connect(vif: Vif): void {
    const xs = this.deps.xenstore;
    const fe = vif.fe;
    const tx = decimal(xs.read(`${fe}/tx-ring-ref`));
    const rx = decimal(xs.read(`${fe}/rx-ring-ref`));
    const port = decimal(xs.read(`${fe}/event-channel`));
    if (tx === undefined || rx === undefined || port === undefined) throw new BackendFatal(`frontend ${fe} gave no tx-ring-ref / rx-ring-ref / event-channel (split event channels were not offered)`);
    if (xs.read(`${fe}/request-rx-copy`) !== '1') throw new BackendFatal('the frontend does not request rx-copy (rx-flip is not supported)');
    const domid = domId(vif.domid);
    const { grants, evtchn } = this.deps;
    const ringView = (ref: number): ((fn: (view: DataView) => void) => number) => {
      // The ring's page keeps its bytes while mapped: one DataView for it, and one callback, made once.
      let page: Uint8Array | undefined;
      let view: DataView | undefined;
      let body: (view: DataView) => void = () => {};
      const withView = (p: Uint8Array): void => {
        if (p !== page) view = new DataView((page = p).buffer, p.byteOffset, p.byteLength);
        body(view!);
      };
      return (fn) => {
        body = fn;
        return grants.access(domId(0), domid, grantRef(ref), true, withView);
      };
    };
    const rings = new VifRings({
      txRing: ringView(tx),
      rxRing: ringView(rx),
      grant: (ref, write, fn) => grants.access(domId(0), domid, grantRef(ref), write, fn),
      maxFrame: vif.mtu + 14,
      warn: (message) => this.deps.log.warn(`${backendDeviceName(vif)} (${vif.name}): ${message}`),
    });
    let localPort: EvtchnPort;
    try {
      localPort = evtchn.bindInterdomain(domId(0), domid, evtchnPort(port));
    } catch (error) {
      throw new BackendFatal(`cannot bind event channel ${port}: ${errorMessage(error)}`);
    }
    const work = this.work;
    const rxQueue = this.deps.rxQueue;
    const fail = (error: unknown): void => this.bus.fatal(vif, `disconnected: ${errorMessage(error)}`);
    const netPort: NetPort = {
      name: vif.name,
      deliver(frame) {
        const c = vif.conn;
        if (c === undefined) return false;
        // Straight into a posted rx buffer when the frontend has one and nothing waits before this frame
        // (no copy to keep); the notification goes with the vif's next service.
        if (vif.queue.length === 0) {
          let placed: boolean;
          try {
            placed = c.rings.receiveOne(frame);
          } catch (error) {
            fail(error);
            return false;
          }
          if (placed) {
            vif.directBytes += frame.length;
            work.kick(vif);
            return true;
          }
        }
        if (vif.queue.length >= rxQueue) {
          c.rings.stats.rxDropped++;
          return false;
        }
        vif.queue.push(frame.slice());
        work.kick(vif);
        return true;
      },
    };
    let bridgePort: BridgePort;
    try {
      bridgePort = this.deps.bridges.get(vif.bridgeName).attach(netPort);
    } catch (error) {
      evtchn.close(domId(0), localPort);
      throw new BackendFatal(`vif-bridge: ${errorMessage(error)}`);
    }
    const unlisten = evtchn.onEvent(domId(0), localPort, () => work.kick(vif));
    vif.conn = { rings, localPort, unlisten, port: bridgePort };
    this.deps.log.info(`${vif.name}: connected (tx-ring-ref ${tx}, rx-ring-ref ${rx}, event channel ${port})`);
    work.kick(vif);
  }

  disconnect(vif: Vif): void {
    const c = vif.conn;
    if (c === undefined) return;
    vif.conn = undefined;
    vif.stats = c.rings.stats;
    vif.queue.length = 0;
    this.work.drop(vif);
    c.unlisten();
    c.port.detach();
    try {
      this.deps.evtchn.close(domId(0), c.localPort);
    } catch {
      // The guest's death closed it already.
    }
  }

  connected(vif: Vif): boolean {
    return vif.conn !== undefined;
  }

  // --- the data path, as Dom0 work ----------------------------------------------------------------

  private service(v: VcpuApi, vif: Vif): void {
    const c = vif.conn;
    if (c === undefined) return;
    try {
      // Guest → bridge. The bridge may deliver to other vifs (kicking them) as we go.
      const t = c.rings.transmit(this.deps.batch, (frame) => c.port.send(frame));
      // Bridge → guest.
      const r = vif.queue.length > 0 ? c.rings.receive(vif.queue) : { frames: 0, bytes: 0, notify: false };
      v.compute((t.packets + r.frames) * PACKET_CYCLES);
      const bytes = t.bytes + r.bytes + vif.directBytes;
      vif.directBytes = 0;
      if (bytes > 0) v.charge('copyPerByte', bytes);
      // Frames the bridge put straight into rx buffers since the last service are in takeNotify too.
      if (t.notify || c.rings.takeNotify()) {
        v.charge('hypercall');
        this.deps.evtchn.notify(domId(0), c.localPort);
      }
      if (t.more) this.work.kick(vif);
    } catch (error) {
      if (!(error instanceof NetRingError)) this.deps.log.error(`${vif.name}: ${errorMessage(error)}`);
      this.bus.fatal(vif, `disconnected: ${errorMessage(error)}`);
    }
  }
}

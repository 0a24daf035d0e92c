/** xenstored's guest transport: the `xenstore_domain_interface` page in a guest's memory and its event channel. */
import { GuestError, GuestMemory, type Dom0Tasks, type VcpuApi, type VcpuRequest, type DomainRegistry, type EventChannels, type Logger } from '../../../core/api/index.js';
import { XENSTORE_RING_SIZE, XenstoreDomainInterface, domId, evtchnPort, guestPhysAddr, type EvtchnPort } from '../../../core/public/index.js';
import { XS_HEADER_SIZE, XS_PAYLOAD_MAX, type XsConnection, type XsDomainHooks, type XsSession } from './connection.js';
import { FrameGuard } from './framing.js';

/** Layout of `struct xenstore_domain_interface` (io/xs_wire.h, Xen 4.17). */
export const XS_RING = { SIZE: XENSTORE_RING_SIZE, ...XenstoreDomainInterface } as const;
/** `server_features` bits. 4.17's C xenstored sets RECONNECTION | ERROR. */
export const XS_SERVER_FEATURE = { RECONNECTION: 1, ERROR: 2 } as const;
/** `connection` values. */
export const XS_CONNECTION = { CONNECTED: 0, RECONNECT: 1 } as const;
/** `error` values. */
export const XS_ERROR = { NONE: 0, COMM: 1, RINGIDX: 2, PROTO: 3 } as const;

const PAGE = 4096;
const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => SILENT };

/** What {@link XsRingTransport} is made from. */
export interface XsRingTransportOptions {
  domains: DomainRegistry;
  evtchn: EventChannels;
  /** Makes the engine session of a new ring connection (the engine is made after the transport). */
  connect: (conn: XsConnection) => XsSession;
  log?: Logger;
  /** Connection ids, shared with the other transports. */
  nextId?: () => number;
  /**
   * Dom0's processes: when given, a ring is served as a task on a Dom0 vCPU (at most one queued per
   * domain) that charges its notify and copies to Dom0; without, it is served at once (transport tests).
   */
  tasks?: Dom0Tasks;
  /**
   * Replies an unprivileged domain may have outstanding (queued, not yet wholly in rsp[]); at the limit
   * its requests stay in req[] until the guest drains rsp[] (C xenstored's domain_can_read). Absent: no limit.
   */
  outstandingQuota?: () => number;
}

/** One message waiting for room in rsp[]; `reply` unless it is a watch event. */
interface Pending {
  bytes: Uint8Array;
  readonly reply: boolean;
}

interface Ring {
  readonly domid: number;
  readonly gfn: number;
  readonly mem: GuestMemory;
  readonly base: number;
  port: EvtchnPort;
  remotePort: number;
  unlisten: () => void;
  conn: XsConnection;
  session: XsSession | undefined;
  readonly guard: FrameGuard;
  /** Output not yet in rsp[] (the guest has not consumed enough). */
  out: Pending[];
  /** Replies in `out` (C's nboutstanding). */
  outstanding: number;
  /** Set once the guest broke the protocol: nothing more is read or written. */
  dead: boolean;
  busy: boolean;
  again: boolean;
  /** A Dom0 task to serve it is queued and has not started. */
  queued: boolean;
  /** Bytes copied in or out of the page (charged to Dom0 by the task). */
  copied: number;
}

const WATCH_EVENT = 15;

const NOTHING = (): void => {};

/** A guest ring's connection as the engine sees it: a class, so a ring costs no closures. */
class RingConn implements XsConnection {
  ring: Ring | undefined;

  constructor(
    readonly id: number,
    readonly domid: number,
    private readonly transport: XsRingTransport,
  ) {}

  get label(): string {
    return `dom${this.domid} ring`;
  }

  write(bytes: Uint8Array): void {
    if (this.ring !== undefined) this.transport.connWrite(this.ring, bytes);
  }

  close(reason: string): void {
    if (this.ring !== undefined) this.transport.connClose(this.ring, reason);
  }
}

/**
 * The guest rings, one per introduced domain. It implements the engine's {@link XsDomainHooks}:
 * `introduce` maps the page at `gfn`, binds Dom0 to the guest's `port` and serves it whenever the guest
 * notifies; `release` undoes that. Requests are read from req[], replies and events written to rsp[]
 * (indexes free-running mod 1024), and the peer notified after each index update. A guest that
 * corrupts its indexes gets `error = RINGIDX`, an oversized payload `error = PROTO`, and is no longer served.
 */
export class XsRingTransport implements XsDomainHooks {
  private readonly rings = new Map<number, Ring>();
  private readonly log: Logger;
  private counter = 0;
  private readonly nextId: () => number;

  constructor(private readonly options: XsRingTransportOptions) {
    this.log = options.log ?? SILENT;
    this.nextId = options.nextId ?? (() => ++this.counter);
  }

  /** Domains with a ring attached. */
  attached(): number[] {
    return [...this.rings.keys()].sort((a, b) => a - b);
  }

  /** The Dom0 port bound to `domid`'s ring, if attached. */
  localPort(domid: number): EvtchnPort | undefined {
    return this.rings.get(domid)?.port;
  }

  domainExists(domid: number): boolean {
    const d = this.options.domains.get(domid);
    return d !== undefined && d.state !== 'dying' && d.state !== 'dead';
  }

  introduce(domid: number, gfn: number, port: number): void {
    const d = this.options.domains.get(domid);
    if (d === undefined || !this.domainExists(domid)) throw new GuestError('ENOENT', `xenstored: no domain ${domid}`, { domid });
    const existing = this.rings.get(domid);
    if (existing !== undefined) {
      if (existing.gfn !== gfn) throw new GuestError('EINVAL', `xenstored: dom${domid} is already introduced with another ring`, { domid });
      // C xenstored: a second INTRODUCE with the same ring recreates the event channel.
      existing.unlisten();
      this.closePort(existing);
      this.bind(existing, port);
      this.kick(existing);
      return;
    }
    const mem = d.guestMemory;
    const base = gfn * PAGE;
    try {
      mem.readU32(guestPhysAddr(base + XS_RING.serverFeatures));
    } catch (error) {
      throw new GuestError('EINVAL', `xenstored: dom${domid} frame ${gfn} is not mappable: ${error instanceof Error ? error.message : String(error)}`, { domid });
    }
    const conn = new RingConn(this.nextId(), domid, this);
    const ring: Ring = { domid, gfn, mem, base, port: evtchnPort(0), remotePort: port, unlisten: NOTHING, conn, session: undefined, guard: new FrameGuard(), out: [], outstanding: 0, dead: false, busy: false, again: false, queued: false, copied: 0 };
    conn.ring = ring;
    this.bind(ring, port);
    this.rings.set(domid, ring);
    ring.session = this.options.connect(ring.conn);
    const features = this.u32(ring, XS_RING.serverFeatures);
    this.setU32(ring, XS_RING.serverFeatures, features | XS_SERVER_FEATURE.RECONNECTION | XS_SERVER_FEATURE.ERROR);
    this.log.info(`dom${domid}: ring at gfn ${gfn}, port ${port} (dom0 port ${ring.port})`);
    this.kick(ring);
  }

  /** Replies queued for `domid` that are not yet wholly in its rsp[] (tests, `xeno top`). */
  outstanding(domid: number): number {
    return this.rings.get(domid)?.outstanding ?? 0;
  }

  release(domid: number): void {
    const ring = this.rings.get(domid);
    if (ring === undefined) return;
    this.rings.delete(domid);
    ring.dead = true;
    ring.unlisten();
    this.closePort(ring);
    this.endSession(ring);
    this.log.info(`dom${domid}: ring released`);
  }

  /** Releases every ring (plugin dispose). */
  dispose(): void {
    for (const domid of [...this.rings.keys()]) this.release(domid);
  }

  /** @internal {@link RingConn.write}: queues whole messages for rsp[] and serves the ring. */
  connWrite(ring: Ring, bytes: Uint8Array): void {
    if (ring.dead) return;
    const reply = bytes.length < 4 || (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) !== WATCH_EVENT;
    ring.out.push({ bytes: bytes.slice(), reply });
    if (reply) ring.outstanding++;
    if (!ring.busy) this.kick(ring);
  }

  /** @internal {@link RingConn.close}: the engine cut the guest off. */
  connClose(ring: Ring, reason: string): void {
    this.fail(ring, XS_ERROR.COMM, reason);
  }

  private bind(ring: Ring, port: number): void {
    const { evtchn } = this.options;
    ring.port = evtchn.bindInterdomain(domId(0), domId(ring.domid), evtchnPort(port));
    ring.remotePort = port;
    ring.unlisten = evtchn.onEvent(domId(0), ring.port, () => this.kick(ring));
  }

  /** The guest notified, or there is output: serve the ring now, or queue Dom0's task to (once). */
  private kick(ring: Ring): void {
    const tasks = this.options.tasks;
    if (tasks === undefined) return this.service(ring);
    if (ring.queued || ring.dead) return;
    ring.queued = true;
    tasks.submit(`xenstored: dom${ring.domid} ring`, (v) => this.serveTask(v, ring));
  }

  /** Dom0's task: one pass over the ring, its event-channel work and its copies charged to the vCPU. */
  private *serveTask(v: VcpuApi, ring: Ring): Generator<VcpuRequest, void, unknown> {
    ring.queued = false;
    v.charge('hypercall');
    ring.copied = 0;
    this.service(ring);
    v.charge('copyPerByte', ring.copied);
  }

  private closePort(ring: Ring): void {
    try {
      this.options.evtchn.close(domId(0), ring.port);
    } catch {
      // The domain died first: its death already closed the channel's far end.
    }
  }

  private endSession(ring: Ring): void {
    const session = ring.session;
    ring.session = undefined;
    try {
      session?.closed();
    } catch (error) {
      this.log.error(`dom${ring.domid}: engine failed to close the session: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private notify(ring: Ring): void {
    try {
      this.options.evtchn.notify(domId(0), ring.port);
    } catch {
      // Port gone with the domain.
    }
  }

  private u32(ring: Ring, off: number): number {
    return ring.mem.readU32(guestPhysAddr(ring.base + off)) >>> 0;
  }

  private setU32(ring: Ring, off: number, value: number): void {
    ring.mem.writeU32(guestPhysAddr(ring.base + off), value >>> 0);
  }

  /** Stops serving a guest that broke the protocol; tells it why in `error`. */
  private fail(ring: Ring, code: number, reason: string): void {
    if (ring.dead) return;
    ring.dead = true;
    ring.out = [];
    ring.outstanding = 0;
    this.log.warn(`dom${ring.domid}: ring disconnected: ${reason}`);
    try {
      this.setU32(ring, XS_RING.error, code);
      this.notify(ring);
    } catch {
      // The page is gone.
    }
    this.endSession(ring);
  }

  /** Serves the ring until there is nothing more to do now (re-entrant calls are folded in). */
  private service(ring: Ring): void {
    if (ring.dead) return;
    if (ring.busy) {
      ring.again = true;
      return;
    }
    ring.busy = true;
    try {
      do {
        ring.again = false;
        this.step(ring);
      } while (ring.again && !ring.dead);
    } catch (error) {
      this.fail(ring, XS_ERROR.COMM, `ring access failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      ring.busy = false;
    }
  }

  private step(ring: Ring): void {
    if (this.u32(ring, XS_RING.connection) === XS_CONNECTION.RECONNECT) this.reconnect(ring);
    if (!this.checkIndexes(ring)) return;
    this.flush(ring);
    const reqCons = this.u32(ring, XS_RING.reqCons);
    const reqProd = this.u32(ring, XS_RING.reqProd);
    let cons = reqCons;
    // Whole messages one at a time (a partial one as far as it goes), so the quota is checked between them.
    while (cons !== reqProd && !ring.dead) {
      if (ring.guard.atBoundary && this.throttled(ring)) break;
      const avail = (reqProd - cons) >>> 0;
      let take = Math.min(avail, ring.guard.remaining);
      if (ring.guard.atBoundary && avail >= XS_HEADER_SIZE) {
        const len = this.peekU32(ring, XS_RING.req, cons + 12);
        take = len > XS_PAYLOAD_MAX ? XS_HEADER_SIZE : Math.min(avail, XS_HEADER_SIZE + len);
      }
      const bytes = this.copyOut(ring, XS_RING.req, cons, take);
      cons = (cons + take) >>> 0;
      this.setU32(ring, XS_RING.reqCons, cons);
      const bad = ring.guard.check(bytes);
      if (bad !== undefined) return this.fail(ring, XS_ERROR.PROTO, bad);
      ring.session?.receive(bytes);
      if (!ring.dead) this.flush(ring);
    }
    if (cons !== reqCons && !ring.dead) {
      this.notify(ring);
      ring.again = true;
    }
  }

  /** False (and the guest cut off with RINGIDX) when its indexes are more than a ring apart. */
  private checkIndexes(ring: Ring): boolean {
    const reqCons = this.u32(ring, XS_RING.reqCons);
    const reqProd = this.u32(ring, XS_RING.reqProd);
    const rspCons = this.u32(ring, XS_RING.rspCons);
    const rspProd = this.u32(ring, XS_RING.rspProd);
    if (((reqProd - reqCons) >>> 0) > XS_RING.SIZE || ((rspProd - rspCons) >>> 0) > XS_RING.SIZE) {
      this.fail(ring, XS_ERROR.RINGIDX, `bad indexes req ${reqCons}..${reqProd}, rsp ${rspCons}..${rspProd}`);
      return false;
    }
    return true;
  }

  /** C's domain_can_read: an unprivileged domain with a full quota of outstanding replies is not read. */
  private throttled(ring: Ring): boolean {
    const quota = this.options.outstandingQuota;
    return quota !== undefined && ring.domid !== 0 && ring.outstanding >= quota();
  }

  private peekU32(ring: Ring, area: number, index: number): number {
    const b = this.copyOut(ring, area, index, 4);
    ring.copied -= 4;
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  /** Writes as much queued output as rsp[] has room for. */
  private flush(ring: Ring): void {
    if (ring.out.length === 0) return;
    const rspCons = this.u32(ring, XS_RING.rspCons);
    const rspProd = this.u32(ring, XS_RING.rspProd);
    if (((rspProd - rspCons) >>> 0) > XS_RING.SIZE) return this.fail(ring, XS_ERROR.RINGIDX, `bad indexes rsp ${rspCons}..${rspProd}`);
    let prod = rspProd;
    let wrote = false;
    while (ring.out.length > 0) {
      const space = XS_RING.SIZE - ((prod - rspCons) >>> 0);
      if (space === 0) break;
      const head = ring.out[0]!;
      const n = Math.min(space, head.bytes.length);
      this.copyIn(ring, XS_RING.rsp, prod, head.bytes.subarray(0, n));
      prod = (prod + n) >>> 0;
      wrote = true;
      if (n === head.bytes.length) {
        ring.out.shift();
        if (head.reply) ring.outstanding--;
      } else head.bytes = head.bytes.subarray(n);
    }
    if (wrote) {
      this.setU32(ring, XS_RING.rspProd, prod);
      this.notify(ring);
    }
  }

  /** C xenstored's domain_conn_reset: drop watches, transactions and output, zero the indexes, then CONNECTED. */
  private reconnect(ring: Ring): void {
    this.endSession(ring);
    ring.out = [];
    ring.outstanding = 0;
    ring.guard.reset();
    for (const off of [XS_RING.reqCons, XS_RING.reqProd, XS_RING.rspCons, XS_RING.rspProd]) this.setU32(ring, off, 0);
    ring.session = this.options.connect(ring.conn);
    this.setU32(ring, XS_RING.connection, XS_CONNECTION.CONNECTED);
    this.notify(ring);
    this.log.info(`dom${ring.domid}: ring reconnected`);
  }

  private copyOut(ring: Ring, area: number, index: number, length: number): Uint8Array {
    const start = index & (XS_RING.SIZE - 1);
    const first = Math.min(length, XS_RING.SIZE - start);
    ring.copied += length;
    const a = ring.mem.read(guestPhysAddr(ring.base + area + start), first);
    if (first === length) return a.slice();
    const out = new Uint8Array(length);
    out.set(a);
    out.set(ring.mem.read(guestPhysAddr(ring.base + area), length - first), first);
    return out;
  }

  private copyIn(ring: Ring, area: number, index: number, bytes: Uint8Array): void {
    const start = index & (XS_RING.SIZE - 1);
    const first = Math.min(bytes.length, XS_RING.SIZE - start);
    ring.copied += bytes.length;
    ring.mem.write(guestPhysAddr(ring.base + area + start), bytes.subarray(0, first));
    if (first < bytes.length) ring.mem.write(guestPhysAddr(ring.base + area), bytes.subarray(first));
  }
}

/**
 * netfront (FreeBSD's dev/xen/netfront): the `xn` interface of a `device/vif/<id>` xenbus device. It
 * grants its tx and rx ring pages and a pool of buffers to the backend, asks for rx-copy, and goes
 * Connected once the backend is ready; frames the stack sends are copied into granted tx buffers, and
 * the rx buffers the backend filled go up to the stack and are posted again.
 */
import type { VcpuRequest } from '../../../../../../core/api/index.js';
import {
  NETIF_RSP, NETRXF, NET_RX_RING_SIZE, NET_TX_RING_SIZE, NetifRxRequest, NetifRxResponse, NetifTxRequest, NetifTxResponse, PAGE_SIZE, SringHeader, XenbusState,
  xenbusStateName,
} from '../../../../../../core/public/index.js';
import { allocFrame } from '../../../net/frame-alloc.js';
import { emptyIfnetStats, type IfnetDriver } from '../../../net/if.js';
import { netAttach, netDeadline, netDetach, netTimers } from '../../../net/kern_net.js';
import { XenbusFrontend, type GrantedPage } from '../frontend.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** Receive buffers kept posted, and transmit buffers (FreeBSD's NET_RX_RING_SIZE / NET_TX_RING_SIZE use the whole rings). */
const RX_BUFFERS = 128;
const TX_BUFFERS = 128;

type Page = GrantedPage;

function parseMac(text: string): Uint8Array | undefined {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) return undefined;
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

export class Netfront extends XenbusFrontend implements IfnetDriver {
  mac: Uint8Array = new Uint8Array(6);
  mtu = 1500;
  up = false;
  readonly stats = emptyIfnetStats();
  /** The interface's name while the link is up (what the stack knows it by; `name` builds it anew each time). */
  private ifname = '';
  private txRing: Page | undefined;
  private rxRing: Page | undefined;
  private port = -1;
  private readonly txBufs: Page[] = [];
  private readonly txFree: number[] = [];
  /** Which tx buffers are out on the ring (a response for one that is not is ignored). */
  private readonly txBusy = new Uint8Array(TX_BUFFERS);
  private readonly rxBufs: Page[] = [];
  private txProdPvt = 0;
  private txCons = 0;
  private rxProdPvt = 0;
  private rxCons = 0;
  /** Scratch copies of one tx request and one rx response: one guest-memory access each. */
  private readonly txBytes = new Uint8Array(NetifTxRequest.size);
  private readonly txView = new DataView(this.txBytes.buffer);
  private readonly rspBytes = new Uint8Array(NetifRxResponse.size);
  private readonly rspView = new DataView(this.rspBytes.buffer);

  /** The vif's MAC and MTU, from its frontend directory. */
  protected override *readConfig(): Gen {
    const xs = this.k.xenstore!;
    const mac = parseMac((yield* xs.read(`${this.nodename}/mac`)) ?? '');
    const mtu = Number((yield* xs.read(`${this.nodename}/mtu`)) ?? '1500');
    if (mac === undefined) throw new Error(`${this.name}: ${this.nodename} has no valid mac`);
    this.mac = mac;
    if (Number.isInteger(mtu) && mtu >= 68 && mtu <= PAGE_SIZE - 14) this.mtu = mtu;
  }

  /** The link comes up once the backend is Connected (we went Connected when we published our keys). */
  // eslint-disable-next-line require-yield
  protected *backendConnected(): Gen {
    if (!this.up && this.state === XenbusState.Connected) this.linkUp();
  }

  /** Rings, buffers and keys; netfront goes Connected at once, as Linux's and FreeBSD's do. */
  protected *talkToBackend(): Gen {
    const k = this.k;
    const m = k.v.memory;
    this.txRing = this.grantPage(false);
    this.rxRing = this.grantPage(false);
    for (const r of [this.txRing, this.rxRing]) {
      m.writeU32(r.addr + SringHeader.reqEvent, 1);
      m.writeU32(r.addr + SringHeader.rspEvent, 1);
    }
    for (let i = 0; i < TX_BUFFERS; i++) {
      this.txBufs.push(this.grantPage(true));
      this.txFree.push(TX_BUFFERS - 1 - i);
    }
    for (let i = 0; i < RX_BUFFERS; i++) {
      this.rxBufs.push(this.grantPage(false));
      this.postRx(i);
    }
    this.port = this.bindEvents({ handle: () => this.intr(), deadline: () => netDeadline(k) });
    this.pushRx();
    const xs = k.xenstore!;
    yield* xs.write(`${this.nodename}/tx-ring-ref`, String(this.txRing.ref));
    yield* xs.write(`${this.nodename}/rx-ring-ref`, String(this.rxRing.ref));
    yield* xs.write(`${this.nodename}/event-channel`, String(this.port));
    yield* xs.write(`${this.nodename}/request-rx-copy`, '1');
    yield* xs.write(`${this.nodename}/feature-rx-notify`, '1');
    yield* xs.write(`${this.nodename}/feature-sg`, '0');
    yield* this.setState(XenbusState.Connected);
  }

  private linkUp(): void {
    this.ifname = this.name;
    this.up = true;
    this.k.ifnets.push(this);
    netAttach(this.k, this);
    const mac = [...this.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
    this.k.printf(`${this.name}: <Virtual Network Interface> at ${this.nodename} on ${this.dev.parent?.nameunit ?? '?'}`);
    this.k.printf(`${this.name}: Ethernet address: ${mac}`);
    this.k.printf(`${this.name}: link state changed to UP`);
  }

  protected *close(backendState: number, publish = true): Gen {
    const k = this.k;
    if (this.up) {
      this.up = false;
      netDetach(k, this.name);
      const i = k.ifnets.indexOf(this);
      if (i >= 0) k.ifnets.splice(i, 1);
    }
    if (publish && this.state !== XenbusState.Closing) yield* this.setState(XenbusState.Closing);
    this.unbindEvents();
    this.releasePages([...this.txBufs.splice(0), ...this.rxBufs.splice(0), ...(this.txRing ? [this.txRing] : []), ...(this.rxRing ? [this.rxRing] : [])]);
    this.txRing = this.rxRing = undefined;
    this.txFree.length = 0;
    this.txBusy.fill(0);
    if (publish) yield* this.setState(XenbusState.Closed);
    else this.state = XenbusState.Closed;
    k.printf(`${this.name}: detached (backend ${xenbusStateName(backendState)})`);
  }

  // --- transmit ----------------------------------------------------------------------------------

  transmit(frame: Uint8Array): boolean {
    const ring = this.txRing;
    if (!this.up || ring === undefined || frame.length > PAGE_SIZE || frame.length < 14) {
      this.stats.oerrors++;
      return false;
    }
    this.reclaimTx();
    const id = this.txFree.pop();
    if (id === undefined) {
      this.stats.oerrors++;
      return false;
    }
    this.txBusy[id] = 1;
    const m = this.k.v.memory;
    const buf = this.txBufs[id]!;
    m.write(buf.addr, frame);
    const req = this.txView;
    req.setUint32(NetifTxRequest.gref, buf.ref, true);
    req.setUint16(NetifTxRequest.offset, 0, true);
    req.setUint16(NetifTxRequest.flags, 0, true);
    req.setUint16(NetifTxRequest.id, id, true);
    req.setUint16(NetifTxRequest.size_, frame.length, true);
    m.write(ring.addr + SringHeader.size + (this.txProdPvt & (NET_TX_RING_SIZE - 1)) * NetifTxRequest.size, this.txBytes);
    this.txProdPvt = (this.txProdPvt + 1) >>> 0;
    this.push(ring, this.txProdPvt);
    this.stats.opackets++;
    this.stats.obytes += frame.length;
    return true;
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY on `ring`. */
  private push(ring: Page, prod: number): void {
    const m = this.k.v.memory;
    const old = m.readU32(ring.addr + SringHeader.reqProd);
    if (old === prod) return;
    m.writeU32(ring.addr + SringHeader.reqProd, prod);
    const event = m.readU32(ring.addr + SringHeader.reqEvent);
    if (((prod - event) >>> 0) < ((prod - old) >>> 0)) this.k.bsp.events.notify(this.port);
  }

  /** Frees the ids of transmitted frames. */
  private reclaimTx(): boolean {
    const ring = this.txRing;
    if (ring === undefined) return false;
    const m = this.k.v.memory;
    let worked = false;
    for (;;) {
      const prod = m.readU32(ring.addr + SringHeader.rspProd);
      if (((prod - this.txCons) >>> 0) > NET_TX_RING_SIZE) return worked;
      while (this.txCons !== prod) {
        const at = ring.addr + SringHeader.size + (this.txCons & (NET_TX_RING_SIZE - 1)) * NetifTxRequest.size;
        const id = m.readU16(at + NetifTxResponse.id);
        const status = (m.readU16(at + NetifTxResponse.status) << 16) >> 16;
        if (status !== NETIF_RSP.null && id < TX_BUFFERS && this.txBusy[id] === 1) {
          this.txBusy[id] = 0;
          this.txFree.push(id);
        }
        if (status === NETIF_RSP.error || status === NETIF_RSP.dropped) this.stats.oerrors++;
        this.txCons = (this.txCons + 1) >>> 0;
        worked = true;
      }
      m.writeU32(ring.addr + SringHeader.rspEvent, (this.txCons + 1) >>> 0);
      if (m.readU32(ring.addr + SringHeader.rspProd) === this.txCons) return worked;
    }
  }

  // --- receive -----------------------------------------------------------------------------------

  private postRx(id: number): void {
    const ring = this.rxRing!;
    const m = this.k.v.memory;
    const at = ring.addr + SringHeader.size + (this.rxProdPvt & (NET_RX_RING_SIZE - 1)) * NetifRxRequest.size;
    m.writeU16(at + NetifRxRequest.id, id);
    m.writeU32(at + NetifRxRequest.gref, this.rxBufs[id]!.ref);
    this.rxProdPvt = (this.rxProdPvt + 1) >>> 0;
  }

  private pushRx(): void {
    this.push(this.rxRing!, this.rxProdPvt);
  }

  /** The event channel's handler: transmitted frames reclaimed, received ones handed up and their buffers posted again. */
  private *intr(): Gen<boolean> {
    netTimers(this.k);
    let worked = this.reclaimTx();
    const ring = this.rxRing;
    if (ring === undefined) return worked;
    const m = this.k.v.memory;
    for (;;) {
      const prod = m.readU32(ring.addr + SringHeader.rspProd);
      if (((prod - this.rxCons) >>> 0) > NET_RX_RING_SIZE) {
        this.k.printf(`${this.name}: bogus rx response indexes (rsp_prod ${prod}, rsp_cons ${this.rxCons})`);
        return worked;
      }
      while (this.rxCons !== prod) {
        const at = ring.addr + SringHeader.size + (this.rxCons & (NET_RX_RING_SIZE - 1)) * NetifRxRequest.size;
        m.readInto(at, this.rspBytes);
        const id = this.rspView.getUint16(NetifRxResponse.id, true);
        const offset = this.rspView.getUint16(NetifRxResponse.offset, true);
        const flags = this.rspView.getUint16(NetifRxResponse.flags, true);
        const status = this.rspView.getInt16(NetifRxResponse.status, true);
        this.rxCons = (this.rxCons + 1) >>> 0;
        worked = true;
        if (id >= RX_BUFFERS) {
          this.stats.ierrors++;
          continue;
        }
        if (status > 0 && offset + status <= PAGE_SIZE) {
          // Into a slab view (the stack keeps views of received frames, so each needs its own bytes).
          const frame = allocFrame(status);
          m.readInto(this.rxBufs[id]!.addr + offset, frame);
          this.stats.ipackets++;
          this.stats.ibytes += status;
          this.k.netInput?.(this.ifname, frame, (flags & NETRXF.dataValidated) !== 0);
        } else {
          this.stats.ierrors++;
        }
        this.postRx(id);
      }
      this.pushRx();
      m.writeU32(ring.addr + SringHeader.rspEvent, (this.rxCons + 1) >>> 0);
      if (m.readU32(ring.addr + SringHeader.rspProd) === this.rxCons) return worked;
    }
  }
}

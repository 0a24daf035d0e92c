/**
 * netback's data path for one connected vif: packets off the tx ring (each slot copied out before it is
 * checked, fragments gathered through grant accesses) become frames for the bridge; frames from the
 * bridge are copied into the pages the frontend posted on the rx ring (request-rx-copy), answered in
 * the slot of the request they used.
 */
import {
  GNTST, NETIF_RSP, NETRXF, NETTXF, NET_RX_RING_SIZE, NET_TX_RING_SIZE, NetifRxRequest, NetifRxResponse, NetifTxRequest, NetifTxResponse, SringHeader,
  XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_MAX_TX_SIZE, XEN_NETIF_NR_SLOTS_MIN, NetifExtraInfo,
} from '../../../core/public/index.js';

const PAGE = 4096;
/** Entries of both rings are 12 (tx) and 8 (rx) bytes after the 64-byte header. */
const TX_SLOT = NetifTxRequest.size;
const RX_SLOT = NetifRxRequest.size;
const NO_FRAMES: Uint8Array[] = [];

/** What the data path needs of the grant table: one pinned use of a frontend's page. */
export type GrantPage = (ref: number, write: boolean, fn: (page: Uint8Array) => void) => number;

/** The frontend broke the ring protocol: the vif is disconnected. */
export class NetRingError extends Error {}

/** Counters of a vif (xentop's NETTX/NETRX, `xeno network-list -l`). */
export interface VifStats {
  txPackets: number;
  txBytes: number;
  txErrors: number;
  rxPackets: number;
  rxBytes: number;
  /** Frames for the guest dropped: no rx buffer posted and the queue full. */
  rxDropped: number;
}

export interface VifRingsOptions {
  /** The tx and rx ring pages (their grants). */
  readonly txRing: (fn: (view: DataView) => void) => number;
  readonly rxRing: (fn: (view: DataView) => void) => number;
  readonly grant: GrantPage;
  /** Largest frame accepted from the guest (MTU + 14; bigger with feature-sg + gso, which we do not offer). */
  readonly maxFrame: number;
  readonly warn: (message: string) => void;
}

export class VifRings {
  /** One fragment's copy out of its granted page, set before the grant access runs it (no closure per fragment). */
  private copyTo: Uint8Array = new Uint8Array(0);
  private copyAt = 0;
  private copyFrom = 0;
  private copyLen = 0;
  private readonly gatherCopy = (page: Uint8Array): void => {
    this.copyTo.set(page.subarray(this.copyFrom, this.copyFrom + this.copyLen), this.copyAt);
  };
  private sendTo: (frame: Uint8Array) => void = () => {};
  private readonly sendView = (page: Uint8Array): void => {
    this.sendTo(page.subarray(this.copyFrom, this.copyFrom + this.copyLen));
  };
  /** The frame being put into an rx buffer. */
  private rxFrame: Uint8Array = new Uint8Array(0);
  private readonly rxCopy = (page: Uint8Array): void => {
    page.set(this.rxFrame);
  };
  private rxQueue: Uint8Array[] = NO_FRAMES;
  /** {@link receiveOne}'s frame until a slot takes it, whether one did, and its result (reused). */
  private rxOne: Uint8Array | undefined;
  private oneTaken = false;
  private readonly oneResult = { frames: 0, bytes: 0, notify: false };
  private rxResult = { frames: 0, bytes: 0, notify: false };
  /** Responses were published since the last {@link takeNotify} and the frontend asked to hear of them. */
  private notifyPending = false;
  /**
   * The slots a {@link transmit} pass took, copied out of the ring (an entry per ring slot, reused pass after
   * pass), and its packets: the first data slot, data slots and extra-info slots of each, and its status.
   */
  private readonly slotGref = new Uint32Array(NET_TX_RING_SIZE);
  private readonly slotOffset = new Uint16Array(NET_TX_RING_SIZE);
  private readonly slotFlags = new Uint16Array(NET_TX_RING_SIZE);
  private readonly slotId = new Uint16Array(NET_TX_RING_SIZE);
  private readonly slotSize = new Uint16Array(NET_TX_RING_SIZE);
  private readonly pktFirst = new Uint16Array(NET_TX_RING_SIZE);
  private readonly pktFrags = new Uint16Array(NET_TX_RING_SIZE);
  private readonly pktExtras = new Uint16Array(NET_TX_RING_SIZE);
  private readonly pktStatus = new Int16Array(NET_TX_RING_SIZE);
  private packets = 0;
  private budget = 0;
  /** Requests the frontend has put on the tx ring that the pass has not taken yet. */
  private txAvail = 0;
  private txNotify = false;
  private txMore = false;
  private txReqCons = 0;
  private txRspProdPvt = 0;
  private rxReqCons = 0;
  private rxRspProdPvt = 0;
  readonly stats: VifStats = { txPackets: 0, txBytes: 0, txErrors: 0, rxPackets: 0, rxBytes: 0, rxDropped: 0 };

  constructor(private readonly o: VifRingsOptions) {}

  private view(kind: 'tx' | 'rx', fn: (view: DataView) => void): void {
    const st = (kind === 'tx' ? this.o.txRing : this.o.rxRing)(fn);
    if (st !== GNTST.okay) throw new NetRingError(`the ${kind} ring's grant is no longer usable (GNTST ${st})`);
  }

  /**
   * Takes up to `budget` packets off the tx ring and answers every slot; `send` gets each good frame.
   * Returns the packets taken, the bytes, whether to notify, and whether requests are left.
   */
  transmit(budget: number, send: (frame: Uint8Array) => void): { packets: number; bytes: number; notify: boolean; more: boolean } {
    this.packets = 0;
    this.budget = budget;
    this.view('tx', this.takeTx);
    let bytes = 0;
    for (let p = 0; p < this.packets; p++) {
      const size = this.pktFrags[p] === 1 ? this.sendInPlace(this.pktFirst[p]!, send) : this.sendGathered(p, send);
      if (size === 0) {
        this.stats.txErrors++;
        this.pktStatus[p] = NETIF_RSP.error;
        continue;
      }
      bytes += size;
      this.stats.txPackets++;
      this.stats.txBytes += size;
      this.pktStatus[p] = NETIF_RSP.okay;
    }
    this.view('tx', this.respondTx);
    return { packets: this.packets, bytes, notify: this.txNotify, more: this.txMore };
  }

  /** Copies up to the budget's packets out of the tx ring: a first slot, extra-info slots chained by EXTRA_FLAG_MORE, then fragments while NETTXF_more_data. */
  private readonly takeTx = (v: DataView): void => {
    this.txAvail = this.unconsumedTx(v);
    let slots = 0;
    while (this.packets < this.budget && this.txAvail > 0) {
      const p = this.packets;
      const first = slots;
      this.readTx(v, this.nextTx(), slots++);
      let extras = 0;
      if ((this.slotFlags[first]! & NETTXF.extraInfo) !== 0) {
        for (let flags = XEN_NETIF_EXTRA_FLAG_MORE; (flags & XEN_NETIF_EXTRA_FLAG_MORE) !== 0; extras++) {
          flags = v.getUint8(SringHeader.size + (this.nextTx() & (NET_TX_RING_SIZE - 1)) * TX_SLOT + NetifExtraInfo.flags);
          if (extras > 4) throw new NetRingError('an endless chain of extra-info slots');
        }
      }
      while ((this.slotFlags[slots - 1]! & NETTXF.moreData) !== 0) {
        this.readTx(v, this.nextTx(), slots++);
        if (slots - first > XEN_NETIF_NR_SLOTS_MIN) throw new NetRingError(`a packet of more than ${XEN_NETIF_NR_SLOTS_MIN} slots`);
      }
      this.pktFirst[p] = first;
      this.pktFrags[p] = slots - first;
      this.pktExtras[p] = extras;
      this.packets = p + 1;
    }
  };

  /** The ring index of the next slot of the packet being taken (a packet may not run past req_prod). */
  private nextTx(): number {
    if (this.txAvail === 0) throw new NetRingError('a packet whose slots run past req_prod');
    this.txAvail--;
    const idx = this.txReqCons;
    this.txReqCons = (this.txReqCons + 1) >>> 0;
    return idx;
  }

  /** Answers each taken slot in order (a packet's status in its data slots, NETIF_RSP_NULL in its extra-info ones), with Xen's notification rule. */
  private readonly respondTx = (v: DataView): void => {
    const old = v.getUint32(SringHeader.rspProd, true);
    for (let p = 0; p < this.packets; p++) {
      const first = this.pktFirst[p]!;
      const status = this.pktStatus[p]!;
      this.respondTxSlot(v, this.slotId[first]!, status);
      // Extra-info slots are answered NETIF_RSP_NULL, as Linux netback does.
      for (let e = 0; e < this.pktExtras[p]!; e++) this.respondTxSlot(v, 0, NETIF_RSP.null);
      for (let f = 1; f < this.pktFrags[p]!; f++) this.respondTxSlot(v, this.slotId[first + f]!, status);
    }
    this.txNotify = false;
    if (this.packets > 0) {
      v.setUint32(SringHeader.rspProd, this.txRspProdPvt, true);
      const event = v.getUint32(SringHeader.rspEvent, true);
      this.txNotify = ((this.txRspProdPvt - event) >>> 0) < ((this.txRspProdPvt - old) >>> 0);
    }
    if (this.unconsumedTx(v) === 0) v.setUint32(SringHeader.reqEvent, (this.txReqCons + 1) >>> 0, true);
    this.txMore = this.unconsumedTx(v) > 0;
  };

  private respondTxSlot(v: DataView, id: number, status: number): void {
    const at = SringHeader.size + (this.txRspProdPvt & (NET_TX_RING_SIZE - 1)) * TX_SLOT;
    v.setUint16(at + NetifTxResponse.id, id, true);
    v.setInt16(at + NetifTxResponse.status, status, true);
    this.txRspProdPvt = (this.txRspProdPvt + 1) >>> 0;
  }

  private unconsumedTx(v: DataView): number {
    const prod = v.getUint32(SringHeader.reqProd, true);
    const n = (prod - this.txReqCons) >>> 0;
    if (n > NET_TX_RING_SIZE) throw new NetRingError(`bogus tx indexes (req_prod ${prod}, req_cons ${this.txReqCons})`);
    return n;
  }

  /** Copies ring slot `idx` into entry `slot` of the slot arrays. */
  private readTx(v: DataView, idx: number, slot: number): void {
    const at = SringHeader.size + (idx & (NET_TX_RING_SIZE - 1)) * TX_SLOT;
    this.slotGref[slot] = v.getUint32(at + NetifTxRequest.gref, true);
    this.slotOffset[slot] = v.getUint16(at + NetifTxRequest.offset, true);
    this.slotFlags[slot] = v.getUint16(at + NetifTxRequest.flags, true);
    this.slotId[slot] = v.getUint16(at + NetifTxRequest.id, true);
    this.slotSize[slot] = v.getUint16(at + NetifTxRequest.size_, true);
  }

  /**
   * A one-slot packet goes to the bridge as a view of the granted page, pinned while the bridge forwards it
   * (the bridge copies what it keeps), as Linux netback maps rather than copies. Returns its size, 0 when refused.
   */
  private sendInPlace(slot: number, send: (frame: Uint8Array) => void): number {
    const total = this.slotSize[slot]!;
    const offset = this.slotOffset[slot]!;
    if (total > this.o.maxFrame || total < 14) {
      this.o.warn(`tx packet of ${total} bytes refused (14..${this.o.maxFrame})`);
      return 0;
    }
    if (offset + total > PAGE) {
      this.o.warn(`tx fragment at offset ${offset} + ${total} crosses its page`);
      return 0;
    }
    this.sendTo = send;
    this.copyFrom = offset;
    this.copyLen = total;
    const gref = this.slotGref[slot]!;
    const st = this.o.grant(gref, false, this.sendView);
    if (st !== GNTST.okay) {
      this.o.warn(`tx grant ${gref}: GNTST ${st}`);
      return 0;
    }
    return total;
  }

  private sendGathered(p: number, send: (frame: Uint8Array) => void): number {
    const frame = this.gather(this.pktFirst[p]!, this.pktFrags[p]!);
    if (frame === undefined) return 0;
    send(frame);
    return frame.length;
  }

  /** The frame the `count` data slots from `first` carry, or undefined (warned) when they do not describe one. */
  private gather(first: number, count: number): Uint8Array | undefined {
    const total = this.slotSize[first]!;
    if (total > XEN_NETIF_MAX_TX_SIZE || total > this.o.maxFrame || total < 14) {
      this.o.warn(`tx packet of ${total} bytes refused (14..${this.o.maxFrame})`);
      return undefined;
    }
    // The first slot's size is the whole packet; its own share is what the later fragments leave.
    let rest = 0;
    for (let i = 1; i < count; i++) rest += this.slotSize[first + i]!;
    if (total - rest <= 0) {
      this.o.warn(`tx fragments add up to more than the packet's ${total} bytes`);
      return undefined;
    }
    const frame = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const s = first + i;
      const len = i === 0 ? total - rest : this.slotSize[s]!;
      const offset = this.slotOffset[s]!;
      if (offset + len > PAGE) {
        this.o.warn(`tx fragment at offset ${offset} + ${len} crosses its page`);
        return undefined;
      }
      this.copyTo = frame;
      this.copyAt = at;
      this.copyFrom = offset;
      this.copyLen = len;
      const gref = this.slotGref[s]!;
      const st = this.o.grant(gref, false, this.gatherCopy);
      if (st !== GNTST.okay) {
        this.o.warn(`tx grant ${gref}: GNTST ${st}`);
        return undefined;
      }
      at += len;
    }
    return frame;
  }

  /** Whether responses published by {@link receive} since the last call want a notification (and forgets it). */
  takeNotify(): boolean {
    const n = this.notifyPending;
    this.notifyPending = false;
    return n;
  }

  /**
   * Copies queued frames into posted rx buffers (as many as there are), taking them off `queue`; returns
   * how many went. Whether the frontend wants a notification accumulates for {@link takeNotify}.
   */
  receive(queue: Uint8Array[]): { frames: number; bytes: number; notify: boolean } {
    this.rxQueue = queue;
    this.rxResult = { frames: 0, bytes: 0, notify: false };
    try {
      this.view('rx', this.rxPass);
    } finally {
      this.rxQueue = NO_FRAMES;
    }
    return this.rxResult;
  }

  /**
   * {@link receive} of one frame with nothing queued before it (the bridge's delivery): true when it went
   * into a posted rx buffer, false when none was posted (the caller queues it).
   */
  receiveOne(frame: Uint8Array): boolean {
    this.rxOne = frame;
    this.oneTaken = false;
    const result = this.oneResult;
    result.frames = 0;
    result.bytes = 0;
    result.notify = false;
    this.rxResult = result;
    try {
      this.view('rx', this.rxPass);
    } finally {
      this.rxOne = undefined;
    }
    return this.oneTaken;
  }

  /** The rx ring's work for {@link receive} (bound once: a frame the bridge hands over straight costs no closure). */
  private readonly rxPass = (v: DataView): void => {
    const queue = this.rxQueue;
    const result = this.rxResult;
    const prod = v.getUint32(SringHeader.reqProd, true);
    if (((prod - this.rxReqCons) >>> 0) > NET_RX_RING_SIZE) throw new NetRingError(`bogus rx indexes (req_prod ${prod}, req_cons ${this.rxReqCons})`);
    const old = v.getUint32(SringHeader.rspProd, true);
    while (this.rxReqCons !== prod) {
      let frame: Uint8Array;
      if (this.rxOne !== undefined) {
        frame = this.rxOne;
        this.rxOne = undefined;
        this.oneTaken = true;
      } else if (queue.length > 0) frame = queue.shift()!;
      else break;
      const at = SringHeader.size + (this.rxReqCons & (NET_RX_RING_SIZE - 1)) * RX_SLOT;
      const id = v.getUint16(at + NetifRxRequest.id, true);
      const gref = v.getUint32(at + NetifRxRequest.gref, true);
      this.rxReqCons = (this.rxReqCons + 1) >>> 0;
      this.rxFrame = frame;
      const st = frame.length <= PAGE ? this.o.grant(gref, true, this.rxCopy) : GNTST.general_error;
      const rsp = SringHeader.size + (this.rxRspProdPvt & (NET_RX_RING_SIZE - 1)) * RX_SLOT;
      v.setUint16(rsp + NetifRxResponse.id, id, true);
      v.setUint16(rsp + NetifRxResponse.offset, 0, true);
      v.setUint16(rsp + NetifRxResponse.flags, NETRXF.dataValidated, true);
      v.setInt16(rsp + NetifRxResponse.status, st === GNTST.okay ? frame.length : NETIF_RSP.error, true);
      this.rxRspProdPvt = (this.rxRspProdPvt + 1) >>> 0;
      if (st === GNTST.okay) {
        result.frames++;
        result.bytes += frame.length;
        this.stats.rxPackets++;
        this.stats.rxBytes += frame.length;
      } else {
        this.stats.rxDropped++;
        this.o.warn(`rx grant ${gref}: GNTST ${st}`);
      }
    }
    if (this.rxRspProdPvt !== old) {
      v.setUint32(SringHeader.rspProd, this.rxRspProdPvt, true);
      const event = v.getUint32(SringHeader.rspEvent, true);
      result.notify = ((this.rxRspProdPvt - event) >>> 0) < ((this.rxRspProdPvt - old) >>> 0);
      if (result.notify) this.notifyPending = true;
    }
    // Ask to hear of new rx buffers while frames wait for them.
    if (queue.length > 0 || this.rxOne !== undefined) v.setUint32(SringHeader.reqEvent, (this.rxReqCons + 1) >>> 0, true);
  };
}

/** netback's data path against hostile frontends: forged tx/rx ring pages and grants. */
import { describe, expect, it } from 'vitest';
import { GNTST, NETIF_RSP, NETTXF, NetifRxRequest, NetifRxResponse, NetifTxRequest, NetifTxResponse, SringHeader } from '../../../../core/public/index.js';
import { NetRingError, VifRings } from '../../../../plugins/backends/netback/rings.js';

function rig() {
  const tx = new DataView(new ArrayBuffer(4096));
  const rx = new DataView(new ArrayBuffer(4096));
  for (const v of [tx, rx]) {
    v.setUint32(SringHeader.reqEvent, 1, true);
    v.setUint32(SringHeader.rspEvent, 1, true);
  }
  const pages = new Map<number, Uint8Array>();
  const warnings: string[] = [];
  const rings = new VifRings({
    txRing: (fn) => (fn(tx), GNTST.okay),
    rxRing: (fn) => (fn(rx), GNTST.okay),
    grant: (ref, _write, fn) => {
      const p = pages.get(ref);
      if (p === undefined) return GNTST.bad_gntref;
      fn(p);
      return GNTST.okay;
    },
    maxFrame: 1514,
    warn: (m) => warnings.push(m),
  });
  let txProd = 0;
  let rxProd = 0;
  return {
    rings, tx, rx, pages, warnings,
    page(ref: number, fill = 0): Uint8Array {
      const p = new Uint8Array(4096).fill(fill);
      pages.set(ref, p);
      return p;
    },
    txSlot(gref: number, offset: number, flags: number, id: number, size: number): void {
      const at = SringHeader.size + (txProd++ & 255) * NetifTxRequest.size;
      tx.setUint32(at + NetifTxRequest.gref, gref, true);
      tx.setUint16(at + NetifTxRequest.offset, offset, true);
      tx.setUint16(at + NetifTxRequest.flags, flags, true);
      tx.setUint16(at + NetifTxRequest.id, id, true);
      tx.setUint16(at + NetifTxRequest.size_, size, true);
      tx.setUint32(SringHeader.reqProd, txProd, true);
    },
    rxSlot(id: number, gref: number): void {
      const at = SringHeader.size + (rxProd++ & 255) * NetifRxRequest.size;
      rx.setUint16(at + NetifRxRequest.id, id, true);
      rx.setUint32(at + NetifRxRequest.gref, gref, true);
      rx.setUint32(SringHeader.reqProd, rxProd, true);
    },
    txResponses(): [number, number][] {
      return Array.from({ length: tx.getUint32(SringHeader.rspProd, true) }, (_, i) => [tx.getUint16(SringHeader.size + i * 12 + NetifTxResponse.id, true), tx.getInt16(SringHeader.size + i * 12 + NetifTxResponse.status, true)]);
    },
    rxResponses(): [number, number][] {
      return Array.from({ length: rx.getUint32(SringHeader.rspProd, true) }, (_, i) => [rx.getUint16(SringHeader.size + i * 8 + NetifRxResponse.id, true), rx.getInt16(SringHeader.size + i * 8 + NetifRxResponse.status, true)]);
    },
  };
}

describe('netback against a hostile frontend', () => {
  it('sends good packets (fragments gathered) and answers bad ones with errors, each slot answered', () => {
    const r = rig();
    r.page(1, 0x11);
    r.page(2, 0x22);
    r.txSlot(1, 0, NETTXF.moreData, 10, 100); // a 100-byte packet: 60 here, 40 in the next slot
    r.txSlot(2, 0, 0, 11, 40);
    r.txSlot(99, 0, 0, 12, 60); // a grant it does not own
    r.txSlot(1, 4000, 0, 13, 200); // crosses the end of its page
    r.txSlot(1, 0, 0, 14, 9000); // larger than the MTU
    r.txSlot(1, 0, 0, 15, 10); // shorter than an Ethernet header
    const sent: Uint8Array[] = [];
    const t = r.rings.transmit(64, (f) => sent.push(f));
    expect(t.packets).toBe(5);
    expect(sent).toHaveLength(1);
    expect([...sent[0]!.subarray(58, 62)]).toEqual([0x11, 0x11, 0x22, 0x22]);
    expect(r.txResponses()).toEqual([[10, NETIF_RSP.okay], [11, NETIF_RSP.okay], [12, NETIF_RSP.error], [13, NETIF_RSP.error], [14, NETIF_RSP.error], [15, NETIF_RSP.error]]);
    expect(r.rings.stats).toMatchObject({ txPackets: 1, txErrors: 4 });
    expect(r.warnings).toHaveLength(4);
    // A later pass: a one-slot packet with an extra-info slot, answered NETIF_RSP_NULL; nothing of the first pass is left over.
    r.txSlot(2, 0, NETTXF.extraInfo, 16, 60);
    r.txSlot(0, 0, 0, 0, 0);
    expect(r.rings.transmit(64, (f) => sent.push(f.slice())).packets).toBe(1);
    expect(sent[1]!.every((b) => b === 0x22)).toBe(true);
    expect(sent[1]).toHaveLength(60);
    expect(r.txResponses().slice(6)).toEqual([[16, NETIF_RSP.okay], [0, NETIF_RSP.null]]);
  });

  it('disconnects on impossible indexes or a packet whose slots run past req_prod', () => {
    const a = rig();
    a.tx.setUint32(SringHeader.reqProd, 5000, true);
    expect(() => a.rings.transmit(64, () => {})).toThrow(NetRingError);
    const b = rig();
    b.page(1);
    b.txSlot(1, 0, NETTXF.moreData, 1, 100);
    expect(() => b.rings.transmit(64, () => {})).toThrow(/past req_prod/);
  });

  it('keeps frames queued while no rx buffer is posted, then copies them into the buffers in order', () => {
    const r = rig();
    const queue = [new Uint8Array(60).fill(1), new Uint8Array(70).fill(2)];
    expect(r.rings.receive(queue)).toMatchObject({ frames: 0 });
    expect(queue).toHaveLength(2);
    const p = r.page(5);
    r.rxSlot(7, 5);
    r.rxSlot(8, 99); // a buffer it does not own
    r.rings.receive(queue);
    expect(r.rxResponses()).toEqual([[7, 60], [8, NETIF_RSP.error]]);
    expect(p[59]).toBe(1);
    expect(r.rings.stats).toMatchObject({ rxPackets: 1, rxDropped: 1 });
  });

  it('puts a frame handed over alone straight into a posted buffer, or says none is posted and asks to hear of one', () => {
    const r = rig();
    r.rx.setUint32(SringHeader.reqEvent, 0, true);
    expect(r.rings.receiveOne(new Uint8Array(60).fill(3))).toBe(false);
    expect(r.rx.getUint32(SringHeader.reqEvent, true)).toBe(1);
    expect(r.rxResponses()).toEqual([]);
    const p = r.page(5);
    r.rxSlot(7, 5);
    r.rxSlot(8, 99); // a buffer it does not own: the frame is taken and answered with an error
    expect(r.rings.receiveOne(new Uint8Array(60).fill(3))).toBe(true);
    expect(r.rings.takeNotify()).toBe(true);
    expect(r.rings.receiveOne(new Uint8Array(70).fill(4))).toBe(true);
    expect(r.rxResponses()).toEqual([[7, 60], [8, NETIF_RSP.error]]);
    expect([p[59], p[60]]).toEqual([3, 0]);
    expect(r.rings.stats).toMatchObject({ rxPackets: 1, rxBytes: 60, rxDropped: 1 });
    expect(r.rings.receiveOne(new Uint8Array(60))).toBe(false);
  });
});

/** Test helpers: a fake connection, request builders and reply parsers for the xenstored engine. */
import type { XsConnection, XsSession } from '../../../../plugins/dom0/xenstored/connection.js';
import { XenstoreEngine, type XenstoreEngineOptions } from '../../../../plugins/dom0/xenstored/engine.js';
import { decodeHeader, encodeMessage, XsType } from '../../../../plugins/dom0/xenstored/wire.js';

export interface Msg { type: number; reqId: number; txId: number; body: string }

/** A peer: collects what the engine writes and parses it into messages. */
export class FakeConn implements XsConnection {
  static next = 1;
  readonly id = FakeConn.next++;
  readonly label: string;
  out: Uint8Array[] = [];
  closedWith: string | null = null;
  constructor(readonly domid: number) { this.label = `fake ${domid}`; }
  write(b: Uint8Array): void { this.out.push(b); }
  close(reason: string): void { this.closedWith = reason; }
  /** Parses and clears everything written so far. */
  take(): Msg[] {
    const all = Buffer.concat(this.out); this.out = [];
    const msgs: Msg[] = [];
    for (let o = 0; o < all.length;) {
      const h = decodeHeader(all, o);
      msgs.push({ type: h.type, reqId: h.reqId, txId: h.txId, body: all.subarray(o + 16, o + 16 + h.len).toString('latin1') });
      o += 16 + h.len;
    }
    return msgs;
  }
}

/** A client of the engine: `call` sends one request and returns every message it produced. */
export class Client {
  readonly conn: FakeConn;
  readonly session: XsSession;
  private req = 100;
  constructor(readonly engine: XenstoreEngine, domid = 0) {
    this.conn = new FakeConn(domid);
    this.session = engine.connect(this.conn);
  }
  send(type: number, body: string, txId = 0): number {
    const id = this.req++;
    this.session.receive(encodeMessage(type, id, txId, body));
    return id;
  }
  call(type: number, body: string, txId = 0): Msg[] { this.send(type, body, txId); return this.conn.take(); }
  /** The last message's body, asserting a reply of the request's type, or `ERR:<NAME>`. */
  ask(type: number, body: string, txId = 0): string {
    const msgs = this.call(type, body, txId);
    const r = msgs[msgs.length - 1]!;
    if (r.type === XsType.ERROR) return `ERR:${r.body.replace(/\0$/, '')}`;
    if (r.type !== type) throw new Error(`reply type ${r.type} to ${type}`);
    return r.body;
  }
  write(path: string, value: string, tx = 0) { return this.ask(XsType.WRITE, `${path}\0${value}`, tx); }
  read(path: string, tx = 0) { return this.ask(XsType.READ, `${path}\0`, tx); }
  txStart() { return Number(this.ask(XsType.TRANSACTION_START, '\0').replace(/\0$/, '')); }
}

export function newEngine(o: XenstoreEngineOptions = {}) { return new XenstoreEngine(o); }

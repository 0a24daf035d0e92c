/** One connection's session: reassembles framed requests from any byte split and dispatches them in order. */
import type { XsConnection, XsSession } from './connection.js';
import type { XenstoreEngine, XsAccessEntry } from './engine.js';
import { HANDLERS, NOTID, PRIVILEGED, type XsRequest } from './handlers.js';
import type { OpContext } from './ops.js';
import type { XsCaller } from './permissions.js';
import { XsTransaction } from './transaction.js';
import { XENSTORE_PAYLOAD_MAX, XS_HEADER_SIZE, XsError, XsType, latin1, putLatin1, readU32, writeU32, xsTypeName } from './wire.js';

/** Size of the slabs replies are carved from (room for 16 largest replies). */
const REPLY_SLAB = 16 * (XS_HEADER_SIZE + XENSTORE_PAYLOAD_MAX);
let slab = new ArrayBuffer(REPLY_SLAB);
let slabUsed = 0;

/**
 * A fresh Uint8Array of `n` bytes for one reply. Connections may keep what they are given, so each reply
 * gets bytes no other reply shares. Replies over 64 bytes are carved from a slab (as Node's Buffer pool
 * does) because a separate backing store per reply costs a native allocation and GC pressure; a kept
 * reply keeps its slab alive. The caller writes every byte.
 */
function allocReply(n: number): Uint8Array {
  // V8 keeps typed arrays of up to 64 bytes on the JS heap: cheaper than a view (most replies are small).
  if (n <= 64) return new Uint8Array(n);
  if (slabUsed + n > REPLY_SLAB) {
    slab = new ArrayBuffer(REPLY_SLAB);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  // Keep each reply 8-byte aligned, as Node's pool does.
  slabUsed = (slabUsed + n + 7) & ~7;
  return out;
}

/** A session's caller; its SET_TARGET target is read live from the engine (a class: no closure per session). */
class SessionCaller implements XsCaller {
  readonly privileged: boolean;

  constructor(
    readonly domid: number,
    private readonly targets: ReadonlyMap<number, number>,
  ) {
    this.privileged = domid === 0;
  }

  get target(): number | undefined {
    return this.targets.get(this.domid);
  }
}

/** @internal The engine's XsSession; handlers use its helpers. */
export class XsSessionImpl implements XsSession {
  readonly caller: XsCaller;
  /** The context of requests outside a transaction (caller, committed store, quotas never change). */
  readonly storeCtx: OpContext;
  /** Open transactions by id, made by the first TRANSACTION_START (a guest's session rarely opens one). */
  private txs: Map<number, XsTransaction> | undefined;
  private nextTxId = 1;
  private partial: Uint8Array | null = null;
  private dead = false;

  constructor(
    readonly engine: XenstoreEngine,
    readonly conn: XsConnection,
    private readonly accessLog: ((entry: XsAccessEntry) => void) | undefined,
  ) {
    this.caller = new SessionCaller(conn.domid, engine.targets);
    this.storeCtx = { caller: this.caller, view: engine.store, quotas: engine.quotas };
  }

  /** Open transactions by id (TRANSACTION_START and _END add and remove them). */
  get transactions(): Map<number, XsTransaction> {
    return (this.txs ??= new Map());
  }

  receive(bytes: Uint8Array): void {
    if (this.dead || bytes.length === 0) return;
    let buf = bytes;
    if (this.partial) {
      buf = new Uint8Array(this.partial.length + bytes.length);
      buf.set(this.partial, 0);
      buf.set(bytes, this.partial.length);
      this.partial = null;
    }
    let off = 0;
    while (buf.length - off >= XS_HEADER_SIZE) {
      const len = readU32(buf, off + 12);
      if (len > XENSTORE_PAYLOAD_MAX) {
        this.kill(`payload of ${len} bytes exceeds ${XENSTORE_PAYLOAD_MAX}`);
        return;
      }
      if (buf.length - off - XS_HEADER_SIZE < len) break;
      const start = off + XS_HEADER_SIZE;
      this.process(readU32(buf, off), readU32(buf, off + 4), readU32(buf, off + 8), buf.subarray(start, start + len));
      off = start + len;
      if (this.dead) return;
    }
    // Keep the tail (copied: the transport may reuse its buffer).
    if (off < buf.length) this.partial = buf.slice(off);
  }

  closed(): void {
    if (this.dead) return;
    this.dead = true;
    this.partial = null;
    this.txs?.clear();
    this.engine.dropSession(this);
  }

  /** Drops watches and transactions (RESET_WATCHES, or the domain being released). */
  reset(): void {
    this.engine.watches.removeAll(this);
    this.txs?.clear();
  }

  private kill(reason: string): void {
    this.engine.log(`${this.conn.label}: ${reason}`);
    this.closed();
    this.conn.close(reason);
  }

  /** Handles one whole request. Never throws. */
  process(type: number, reqId: number, txId: number, payload: Uint8Array): void {
    const req: XsRequest = { type, reqId, txId, payload, tx: null };
    try {
      if (this.accessLog) this.logAccess(type, payload);
      const handler = HANDLERS[type];
      if (!handler) throw new XsError('ENOSYS', `type ${type}`);
      if (!this.caller.privileged && PRIVILEGED.has(type)) throw new XsError('EACCES');
      if (txId !== 0 && !NOTID.has(type)) {
        const tx = this.txs?.get(txId);
        if (!tx) throw new XsError('ENOENT', `transaction ${txId}`);
        req.tx = tx;
      }
      handler(this, req);
    } catch (e) {
      if (e instanceof XsError) this.error(req, e.errno);
      else {
        this.engine.log(`${this.conn.label}: internal error on ${xsTypeName(type)}: ${String(e)}`);
        this.error(req, 'EIO');
      }
    }
  }

  private logAccess(type: number, payload: Uint8Array): void {
    let end = payload.indexOf(0);
    if (end < 0) end = payload.length;
    const path = type === XsType.WRITE || type === XsType.READ || end < 256 ? latin1(payload, 0, Math.min(end, 256)) : '';
    this.accessLog!({ id: this.conn.id, label: this.conn.label, type: xsTypeName(type), path });
  }

  /** A new transaction id (never 0, never one in use). */
  allocTxId(): number {
    let id = this.nextTxId;
    while (id === 0 || this.txs?.has(id)) id = (id + 1) >>> 0;
    this.nextTxId = (id + 1) >>> 0;
    return id;
  }

  /** Sends a reply echoing the request's ids; a payload over 4096 bytes becomes ERROR E2BIG. */
  reply(req: XsRequest, type: number, payload: Uint8Array | string): void {
    if (payload.length > XENSTORE_PAYLOAD_MAX) {
      this.error(req, 'E2BIG');
      return;
    }
    this.send(type, req.reqId, req.txId, payload);
  }

  /** `OK\0`. */
  ack(req: XsRequest): void {
    this.send(req.type, req.reqId, req.txId, 'OK\0');
  }

  /** ERROR `<NAME>\0` echoing the request's ids. */
  error(req: XsRequest, errno: string): void {
    this.send(XsType.ERROR, req.reqId, req.txId, `${errno}\0`);
  }

  /** An unsolicited WATCH_EVENT `<path>\0<token>\0`. */
  sendEvent(path: string, token: string): void {
    this.send(XsType.WATCH_EVENT, 0, 0, `${path}\0${token}\0`);
  }

  private send(type: number, reqId: number, txId: number, payload: Uint8Array | string): void {
    if (this.dead) return;
    const len = payload.length;
    const out = allocReply(XS_HEADER_SIZE + len);
    writeU32(out, 0, type);
    writeU32(out, 4, reqId);
    writeU32(out, 8, txId);
    writeU32(out, 12, len);
    if (typeof payload === 'string') putLatin1(out, XS_HEADER_SIZE, payload);
    else if (len > 0) out.set(payload, XS_HEADER_SIZE);
    this.conn.write(out);
  }
}
